"""The use cases over a store, with no Flask: the settings read once at the edge
(:mod:`service.settings`), the instance container (:mod:`service.instance`, ``with
Ecert.open(settings) as ecert``), and the use cases it holds: :mod:`service.accounts`,
:mod:`service.issuance`, :mod:`service.verification`, :mod:`service.publication` and
:mod:`service.wallets`; :mod:`service.presentations` (presentations shown as QR codes)
is shared by wallets (showing them) and verification (redeeming online QR codes).

A view of ``api/`` parses, calls one of these use cases, and serialises
(``docs/architecture.md``).

``api/`` and ``cli/`` are two faces over this package and never import each other
(``cli`` imports ``api`` only to serve it).
"""
