"""Detector heads: each bundles a network, its loss with target assignment, and its decoding.

`conf/model/head/<name>.yaml` picks one (`_partial_: true`); `src.lightning_modules.detector.Detector`
completes it with the data's class count and input size and trains/evaluates any of them.
"""
