"""Baton across hosts: network namespaces on one machine stand in for separate machines."""
