"""Doubles of the world outside this machine, faked at the network: real servers on loopback."""
