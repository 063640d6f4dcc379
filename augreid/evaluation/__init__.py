"""How good the generated images are: the quality scores and the gallery of what a generator filled in."""
