"""python-slack-sdk's SCIMClient (PyPI `slack_sdk`, Slack's own SCIM v1 client) against the
emulator: search, read, create, patch, PUT and delete of users and groups, each answer checked.
Run by tests/slack_sdk.rs with SCIM_BASE_URL (the emulator's /scim/v1/) and SCIM_TOKEN; prints one
line per step and exits non-zero on the first wrong answer."""
import os
import sys

from slack_sdk.scim import SCIMClient, User, Group
from slack_sdk.scim.v1.group import GroupMember
from slack_sdk.scim.v1.user import UserEmail, UserName

client = SCIMClient(token=os.environ["SCIM_TOKEN"], base_url=os.environ["SCIM_BASE_URL"])
step = ""


def check(cond, what, resp=None):
    if not cond:
        detail = "" if resp is None else f" (HTTP {resp.status_code}: {resp.raw_body})"
        print(f"FAIL {step}: {what}{detail}", file=sys.stderr)
        sys.exit(1)


def begin(name):
    global step
    step = name
    print(f"step {name}")


# ---------- users ----------
begin("search_users")
r = client.search_users(start_index=1, count=5)
check(r.status_code == 200, "listing answers 200", r)
check(len(r.users) == 5 and r.body["totalResults"] >= 5, "a page of five", r)
first = r.users[0]
r = client.search_users(start_index=1, count=10, filter=f'email eq "{first.emails[0].value}"')
check(r.status_code == 200 and [u.id for u in r.users] == [first.id], "an email filter finds the one user", r)
r = client.search_users(start_index=1, count=10, filter=f'userName eq "{first.user_name.upper()}"')
check([u.id for u in r.users] == [first.id], "a userName filter finds them in any case", r)
r = client.search_users(start_index=1, count=10, filter="foo")
check(r.status_code == 400 and r.errors is not None and r.errors.description.startswith("no_filters"), "a filter that is no filter is refused as Slack does", r)

begin("create_user")
r = client.create_user(
    User(
        user_name="sdk.user",
        name=UserName(given_name="Sdk", family_name="User"),
        emails=[UserEmail(value="sdk.user@acme-corp.example", primary=True)],
        title="Tester",
        active=True,
    )
)
check(r.status_code == 201, "a create answers 201 (v1)", r)
created = r.user
check(created.id and created.user_name == "sdk.user" and created.nick_name == "sdk.user", "the new user, nickName tied to userName", r)
r = client.create_user(User(user_name="sdk.other", emails=[UserEmail(value="SDK.user@acme-corp.example")]))
check(r.status_code == 409 and r.errors.description.startswith("email_taken"), "a taken email is refused", r)

begin("read_user")
r = client.read_user(created.id)
check(r.status_code == 200 and r.user.id == created.id and r.user.title == "Tester", "the user reads back", r)

begin("patch_user")
r = client.patch_user(created.id, {"title": "Lead", "urn:scim:schemas:extension:enterprise:1.0": {"department": "QA"}})
check(r.status_code == 200 and r.user.title == "Lead", "a PATCH answers the changed user", r)
check(r.body["urn:scim:schemas:extension:enterprise:1.0"]["department"] == "QA", "the enterprise extension is patched", r)
r = client.patch_user(created.id, {"active": False})
check(r.status_code == 200 and r.user.active is False, "PATCH active=false deactivates", r)
r = client.patch_user(created.id, {"active": True})
check(r.user.active is True, "and active=true reactivates", r)

begin("update_user (PUT)")
# As Slack's own integration test does: the userName kept, no nickName, no title.
r = client.update_user(
    User(
        id=created.id,
        user_name="sdk.user",
        name=UserName(given_name="Sdk", family_name="Renamed"),
        emails=[UserEmail(value="sdk.user@acme-corp.example", primary=True)],
        active=True,
    )
)
check(r.status_code == 200, "a PUT that keeps the userName and leaves out nickName is taken", r)
check(r.user.user_name == "sdk.user" and r.user.name.family_name == "Renamed", "the PUT's values", r)
r = client.read_user(created.id)
check(r.user.title is None, "a PUT replaces the whole user: the title it left out is cleared", r)
check(not (r.body.get("urn:scim:schemas:extension:enterprise:1.0") or {}).get("department"), "and the department", r)
r = client.update_user(User(id=created.id, user_name="sdk.user.renamed", emails=[UserEmail(value="sdk.user@acme-corp.example")], active=True))
check(r.status_code == 200 and r.user.nick_name == "sdk.user.renamed", "a PUT that renames renames the nickName too", r)

# ---------- groups ----------
begin("create_group")
second = client.search_users(start_index=2, count=1).users[0]
members = [GroupMember(value=created.id)]
r = client.create_group(Group(display_name="sdk-group", members=members))
check(r.status_code == 201 and r.group.display_name == "sdk-group", "a group is created", r)
group = r.group
check([m.value for m in group.members] == [created.id], "with its member", r)

begin("search_groups")
r = client.search_groups(start_index=1, count=100)
check(r.status_code == 200 and any(g.id == group.id for g in r.groups), "the group is listed", r)
r = client.search_groups(start_index=1, count=10, filter='displayName eq "sdk-group"')
check([g.id for g in r.groups] == [group.id], "a displayName filter finds it", r)

begin("read_group")
r = client.read_group(group.id)
check(r.status_code == 200 and r.group.id == group.id, "the group reads back", r)

begin("patch_group")
if second.active:
    r = client.patch_group(group.id, {"members": [{"value": second.id}, {"value": created.id, "operation": "delete"}]})
    check(r.status_code == 204, "a v1 group PATCH answers 204 without a body", r)
    r = client.read_group(group.id)
    check([m.value for m in r.group.members] == [second.id], "one member added, one removed", r)
r = client.patch_group(group.id, {"displayName": "sdk-group-renamed"})
check(r.status_code == 204 and client.read_group(group.id).group.display_name == "sdk-group-renamed", "a rename", r)

begin("update_group (PUT)")
r = client.update_group(Group(id=group.id, display_name="sdk-group-put", members=[GroupMember(value=created.id)]))
check(r.status_code == 200 and r.group.display_name == "sdk-group-put", "a group PUT", r)
check([m.value for m in r.group.members] == [created.id], "replaces the membership", r)

begin("delete_group")
r = client.delete_group(group.id)
check(r.status_code == 204, "a group delete answers 204", r)
r = client.read_group(group.id)
check(r.status_code == 404, "the group is gone", r)

begin("delete_user")
r = client.delete_user(created.id)
check(r.status_code == 200, "a user delete answers 200 (v1)", r)
r = client.read_user(created.id)
check(r.status_code == 200 and r.user.active is False, "the user is deactivated, not deleted", r)
r = client.delete_user(created.id)
check(r.status_code == 200, "and deleting again is harmless", r)

print("all steps passed")
