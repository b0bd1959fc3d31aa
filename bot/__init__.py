"""dealbot: a conversational SMS/email bot that works seller leads and moves deals to cash buyers."""

__version__ = "0.1.0"
