"""Connections to mail servers: log in over IMAP or SMTP, with library errors mapped once.

``base``  the endpoint, TLS context, login secret and socket/TLS error mapping
``imap``  ``connect_imap`` and folder/capability helpers (imapclient)
``smtp``  ``connect_smtp`` and ``auth_mechanisms`` (smtplib)
"""
