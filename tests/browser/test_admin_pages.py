"""Admin pages in Chromium: users and roles, API tokens (the secret shown once), deployments (who
and when, each file downloaded as deployed, deleted only when none of its instances runs), and
nobody below admin gets in."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.auth_helpers import PASSWORD, make_user
from tests.browser.conftest import sign_in
from tests.conftest import PROCESSES


def test_users_create_change_role_and_delete(page, live):
    page.goto("/")
    page.click("header nav a:has-text('Admin')")
    page.wait_for_url("**/admin/users")
    page.fill("#new-user input[name=name]", "dana")
    page.select_option("#new-user select[name=role]", "viewer")
    page.fill("#new-user input[name=password]", "short")
    page.evaluate("document.querySelector('#new-user').noValidate = true")
    page.click("#new-user button[type=submit]")
    assert "User not created" in page.inner_text(".flash-error")
    assert page.input_value("#new-user input[name=name]") == "dana"  # what was typed stays

    page.fill("#new-user input[name=password]", PASSWORD)
    page.click("#new-user button[type=submit]")
    assert "Created dana (viewer)" in page.inner_text(".flash-ok")
    page.select_option('tr[data-user="dana"] select[name=role]', "operator")
    page.click('tr[data-user="dana"] button.change-role')
    assert "dana is now operator" in page.inner_text(".flash-ok")
    assert {u["name"]: u["role"] for u in live.engine.list_users()}["dana"] == "operator"

    page.once("dialog", lambda dialog: dialog.accept())
    page.click('tr[data-user="dana"] button.delete-user')
    assert "Deleted dana" in page.inner_text(".flash-ok")
    assert "dana" not in {u["name"] for u in live.engine.list_users()}
    # The refused form answered 400 on purpose; Chromium logs that status, nothing else may fail.
    assert [e for e in live.console_errors if "status of 400" not in e] == []


def test_a_new_token_is_shown_once_and_works_until_revoked(page, live):
    page.goto("/admin/tokens")
    page.fill("#new-token-form input[name=name]", "ci-reader")
    page.select_option("#new-token-form select[name=role]", "viewer")
    page.click("#new-token-form button[type=submit]")
    secret = page.inner_text("#token-secret").strip()
    assert "only time it is shown" in page.inner_text("#new-token")
    answer = httpx.get(f"{live.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert answer.json().get("role") == "viewer", answer.text

    page.goto("/admin/tokens")
    assert page.query_selector("#token-secret") is None
    assert secret not in page.content()
    row = page.query_selector("#tokens tr:has-text('ci-reader')")
    assert row is not None and secret[:6] in row.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    row.query_selector("button.revoke").click()
    assert "Revoked" in page.inner_text(".flash-ok")
    assert httpx.get(f"{live.url}/api/v1/me",
                     headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert live.console_errors == []


def test_deployments_show_who_and_when_download_files_and_delete_only_without_running_instances(page, live):
    source = (PROCESSES / "user_registration.bpmn").read_bytes()
    live.engine.deploy([("user_registration.bpmn", source)], name="signup", deployed_by="user:release-bot")
    instance_id = live.engine.start("user_registration", {"email": "x@example.org"}, business_key="dep-1")

    page.goto("/admin/deployments")
    row = page.wait_for_selector("#deployments tr:has-text('signup')")
    assert "user:release-bot" in row.inner_text() and "user_registration v1" in row.inner_text()
    with page.expect_download() as info:
        row.query_selector("a.download").click()
    assert info.value.suggested_filename == "user_registration.bpmn"
    assert Path(info.value.path()).read_bytes() == source

    page.once("dialog", lambda dialog: dialog.accept())
    row.query_selector("button.delete-deployment").click()
    refusal = page.inner_text(".flash-error")
    assert "Not deleted" in refusal and "1 instance(s) that have not ended" in refusal
    assert live.engine.list_definitions() != []

    live.engine.cancel(instance_id, "cleaning up")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#deployments tr:has-text('signup') button.delete-deployment")
    assert "Deleted the deployment (user_registration v1) and 1 ended instance(s)" in page.inner_text(".flash-ok")
    assert live.engine.list_definitions() == []
    assert "Nothing deployed yet" in page.inner_text("#deployments")
    assert live.console_errors == []


def test_operators_and_viewers_see_no_admin_link_and_are_refused(page, live):
    page.context.clear_cookies()
    sign_in(page, make_user(live.engine, "operator"))
    assert page.query_selector("header nav a:has-text('Admin')") is None
    for path in ("/admin/users", "/admin/tokens", "/admin/deployments"):
        assert page.goto(path).status == 403, path
        assert "needs the admin role" in page.inner_text("main")
