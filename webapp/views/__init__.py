"""Views: thin Bokeh/Panel renderings of the session state and of a RunPair."""
