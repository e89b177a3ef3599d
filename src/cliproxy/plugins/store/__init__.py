"""The plugin store: registries of installable plugins and their installation.

:mod:`~cliproxy.plugins.store.registry` parses and checks registry documents,
:mod:`~cliproxy.plugins.store.manifest` the ``store`` pin written to the config,
:mod:`~cliproxy.plugins.store.auth` the ``plugins.store-auth`` rules,
:mod:`~cliproxy.plugins.store.client` downloads, :mod:`~cliproxy.plugins.store.install`
writes the library where discovery finds it. CPA: ``internal/pluginstore``.
"""
