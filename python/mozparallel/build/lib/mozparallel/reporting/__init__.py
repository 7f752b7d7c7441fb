"""Reporting: our mozlog formatters and handlers (TAP output, the run's
verdict); everything here listens to the same event stream."""
