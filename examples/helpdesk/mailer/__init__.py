"""The mailer: confirms each reported issue to its customer by mail, through a mail server that may be down."""
