"""Shared by every task's data: image files, transforms, samplers, batch colour, prediction inputs, synthetic scenes."""
