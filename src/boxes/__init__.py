"""Box coding for the detectors: decoding of network outputs, training targets, k-means anchors.
Below both the networks (models/) and the losses, which use them."""
