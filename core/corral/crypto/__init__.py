"""The cluster's certificates: its CA, one certificate per node, and TLS settings.

Every node daemon serves HTTPS with a certificate the cluster CA signed for
that node's name, and accepts only clients holding such a certificate.
"""
