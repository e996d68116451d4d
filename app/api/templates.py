"""/api/v1 routes for the template library: saved templates a campaign starts from and layouts that wrap a
campaign's bodies in their {{ content }} slot."""

from fastapi import APIRouter

from app.api.resources import Resource
from app.api.settings_resources import Service, serve
from app.models import MessageTemplate
from app.sending import library
from app.sending.library_schemas import TemplateCreate, TemplatePublic, TemplateUpdate

DOCS = {
    "list": "Saved templates and layouts by name.",
    "create": "Checked when saved: each part's Jinja2 parses, MJML compiles, a layout's HTML has a"
    " `{{ content }}` slot. A campaign names a layout by `layout_id`; a template is copied into a new campaign.",
    "delete": "Refused (409) while a campaign names the layout.",
}
SERVICE = Service(library.templates_page, library.public, library.create, library.change, library.remove)

router = APIRouter()
serve(
    router,
    "templates",
    "/templates",
    Resource(MessageTemplate, TemplatePublic, "template_id", "template"),
    SERVICE,
    (TemplateCreate, TemplateUpdate),
    DOCS,
)
