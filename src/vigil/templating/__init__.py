"""Templates users write (notification texts, workflow bodies), rendered in one bounded
Jinja sandbox (``sandbox``) whose cost is checked when they are saved (``costs``)."""
