"""Authlib grant subclasses: storage hooks and the policies Authlib lacks."""
