from tests.workbench.test_app import workbench_url  # noqa: F401  (shared by the screenshot)
