"""The use cases over a store, with no Flask: the settings read once at the edge
(:mod:`service.settings`), the instance container (:mod:`service.instance`, ``with
Ecert.open(settings) as ecert``), and the use cases it holds: :mod:`service.issuance`,
:mod:`service.verification`, :mod:`service.publication` and :mod:`service.accounts`.

``api/`` and ``cli/`` are two faces over this package and never import each other
(``cli`` imports ``api`` only to serve it).
"""
