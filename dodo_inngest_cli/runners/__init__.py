"""Programs shipped with the package that run a project's Inngest functions in their own
processes (see function_runners.py); they are started by path, never imported here."""
