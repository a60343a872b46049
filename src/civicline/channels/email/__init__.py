"""E-mail: the mayor's mailbox (书记市长信箱) read over IMAP and answered over SMTP.

* Inbound: no webhook. ``imap.MailboxReader`` reads one folder of a real mailbox with
  aioimaplib (IDLE, or polling), authenticating with the mailbox's user and password over
  implicit TLS. ``parse.parse_mail`` reads each mail: text and HTML bodies in any charset,
  attachments (images and PDF within the size limit), threading headers, auto-replies, list
  mail, delivery-status bounces and ``Authentication-Results``.
* Outbound: ``smtp.EmailSender`` (the outbox's sender for channel ``email``) with aiosmtplib,
  threaded with ``In-Reply-To``/``References`` and the case number in the subject.
* Settings: ``CIVICLINE_IMAP_HOST``/``_PORT``/``_TLS``/``_USER``/``_PASSWORD``/``_FOLDER``,
  ``CIVICLINE_SMTP_HOST``/``_PORT``/``_TLS``/``_USER``/``_PASSWORD``,
  ``CIVICLINE_MAIL_FROM_ADDRESS``; see ``gateway.mail``.
"""
