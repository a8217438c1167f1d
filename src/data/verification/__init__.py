"""Verification data: synthetic faces, identity folders, LFW pairs and pair sets."""
