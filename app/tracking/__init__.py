"""Opens and clicks, told apart into people's and machines', and the campaign report.

A campaign tracks `none` (no pixel, links as written), `anonymous` (counts only: a link names the campaign
and the link, never the message) or `contact` (a link names the delivery too). The choice is the campaign's,
else the settings' default, fixed at launch with the campaign's links (`links.freeze`). The hit routes
(`routes.py`) answer from memory and hand each hit to the recorder (`recorder.py`), which writes them in
batches; `settle.py` then classifies them (`rules.py`) and adds them to the hourly counts the report
(`report.py`) reads."""
