"""dealbot's benchmarks: run by hand (``python -m bench.runner``), never in CI, never as tests.

Every run first measures the baseline (a bare aiohttp handler that parses a
Twilio-style form and answers empty TwiML); each benchmark's figures are
reported as ratios to the baseline of the same run, on the same machine.
"""
