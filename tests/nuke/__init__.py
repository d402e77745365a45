"""Tests of the Nuke layer against a fake ``nuke`` module (Nuke itself is not needed)."""
