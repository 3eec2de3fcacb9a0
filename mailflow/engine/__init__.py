"""One cycle of mailflow: intake -> understand -> record -> plan -> deliver.

The engine knows only the seams (``MailSource``, ``MailSink``), the store and
the pure layers; the daemon drives it.
"""
