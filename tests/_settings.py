"""The small fits that the tests share, defined once.

A test module that needs another variant derives it in the module itself, e.g.
``{**FAST, "epochs": 1}``, so that what differs, and only that, shows.
"""

# A network that trains in a blink on blobs or the packaged sample.
SMALL_NETWORK = dict(hidden_size=16, batch_size=32)
# A short fit of it: three epochs, the default validation split.
FAST = {**SMALL_NETWORK, "epochs": 3}
