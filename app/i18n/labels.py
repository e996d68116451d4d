"""How a stored value (a campaign or delivery state, a bounce kind, a suppression reason, a contact status, a role,
a consent ledger row's action, actor and source) reads
on a page: the value itself in English, its translation in another language. The value stays what URLs, forms,
CSS classes and the API use."""

from app.i18n import N_, translate

KNOWN = frozenset(
    (
        # campaign and delivery states (app.models.states), import and sweep states
        N_("draft"), N_("scheduled"), N_("sending"), N_("paused"), N_("completed"), N_("cancelled"),
        N_("queued"), N_("deferred"), N_("waiting"), N_("sent"), N_("failed"), N_("expired"), N_("bounced"),
        N_("running"), N_("done"), N_("abandoned"),
        # bounce kinds
        N_("bounce"), N_("delayed"), N_("complaint"), N_("unsubscribe"), N_("autoreply"), N_("delivery"),
        # suppression reasons and contact statuses
        N_("unsubscribed"), N_("complained"), N_("manual"), N_("erased"), N_("active"), N_("suppressed"),
        # roles of the users (app.users.roles)
        N_("admin"), N_("marketer"), N_("viewer"),
        # API key scopes
        N_("read"), N_("write"),
        # the consent ledger's actions, actors and sources (app.subscription.consent)
        N_("subscribe"), N_("confirm"), N_("cancel"), N_("import"), N_("cms"), N_("edit"), N_("erase"), N_("expire"),
        N_("form"), N_("api_key"), N_("user"), N_("mailed_command"), N_("one_click"), N_("unsubscribe_page"),
        N_("preference_page"), N_("system"), N_("preference page"), N_("confirmation link"), N_("signup form"),
        # automations: triggers, step kinds, branch conditions (app.automations)
        N_("list_joined"), N_("optin_confirmed"), N_("segment_entered"), N_("date_reached"), N_("event"),
        N_("campaign_sent"), N_("send"), N_("wait"), N_("branch"), N_("list_add"), N_("list_remove"), N_("webhook"),
        N_("opened"), N_("clicked"), N_("field"), N_("segment"), N_("exited"),
    )
)  # fmt: skip


def label(value: object) -> str:
    """The value as the current language names it (an unknown value as it is)."""
    text = "" if value is None else str(value)
    return translate(text) if text in KNOWN else text
