"""The results pages in a real browser (Debian's chromium, headless) against a real ``hokusai up``.

Every number a page shows is compared with what the JSON API answers the same user, never with a value
written here; the formats are the pages' own (metric values to 4 places, gains in pp to 2, weights as
percentages). Screenshots of each page (1280x800, and at a phone width) go to ``artifacts/ui-screenshots``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from hokusai.evaluation.report import REASONS
from tests.integration.ui.conftest import PHONE, Browsing, Platform, Traffic

pytestmark = pytest.mark.realparts


def shown_gain(value: float, unit: str) -> str:
    assert unit == "pp", unit  # the seeded model is a classifier: every gain is in pp
    return f"{value:+.2f} pp"


def shown_interval(low: float, high: float) -> str:
    return f"[{low:+.2f}, {high:+.2f}]"


def shown_weight(bps: int) -> str:
    return f"{bps / 100:.2f} %"


def cells(row: Any) -> list[str]:
    return [text.strip() for text in row.locator("th, td").all_inner_texts()]


def test_a_wrong_key_is_refused_with_a_readable_message(browse: Browsing, screenshots: Path) -> None:
    page = browse.page()
    page.goto("/ui/")
    page.get_by_label("API key").fill("hk_test_abcdefgh1234_" + "x" * 40)
    page.get_by_role("button", name="Sign in").click()
    error = page.locator("#signin-error")
    error.wait_for()
    assert "That API key was refused: no API key with id abcdefgh1234" in error.inner_text()
    assert page.get_by_label("API key").is_visible()  # still the form, not a page behind it
    assert not [c for c in page.context.cookies() if c["name"] == "hokusai_session"]
    page.screenshot(path=screenshots / "signin-refused.png", full_page=True)


def test_signing_in_sets_an_httponly_strict_session_cookie_that_names_no_key(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    page = browse.context().new_page()
    page.goto("/ui/")
    page.screenshot(path=screenshots / "signin.png", full_page=True)
    page.get_by_label("API key").fill(platform.keys["walletA"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/models")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "hokusai_session"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")
    secret = platform.keys["walletA"].rsplit("_", 1)[1]
    assert secret not in cookie["value"] and platform.keys["walletA"] not in cookie["value"]


def test_a_signed_out_browser_is_sent_to_sign_in_and_then_back_to_its_page(
    browse: Browsing, platform: Platform
) -> None:
    page = browse.page()
    page.goto("/ui/models/m1")
    assert "/ui/?next=" in page.url
    assert page.get_by_role("status").inner_text() == "Sign in to see this page."
    page.get_by_label("API key").fill(platform.keys["owner1"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/models/m1")
    assert page.locator("h1").inner_text() == "Model m1"


def test_the_run_page_follows_a_running_run_and_then_shows_its_verdict(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    with platform.api("walletB") as wallet_b:
        run = wallet_b.post(
            "/api/v1/runs", json={"model": "m1", "contributions": [platform.ids["contribution_b"]]}
        )
        run_id = run.raise_for_status().json()["id"]
    page = browse.page("walletB")
    page.goto(f"/ui/runs/{run_id}")
    assert page.locator("#run-state").inner_text() in ("queued", "running")
    page.screenshot(path=screenshots / "run-in-progress.png", full_page=True)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.locator("#run-state.succeeded, #run-state.failed").wait_for(timeout=600_000)  # the script reloads it
    final = platform.get("walletB", f"/api/v1/runs/{run_id}")
    assert page.locator("#run-state").inner_text() == final["state"]
    assert navigations, "the page reloaded itself once the run finished"
    if final["state"] == "succeeded":
        assert page.locator("#outcome").inner_text() == final["outcome"]
    platform.ids["run_b"] = run_id


def test_the_models_page_lists_the_models_the_api_returns(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    page = browse.page("walletA")
    names = page.locator("tbody tr th").all_inner_texts()
    assert names == [m["name"] for m in platform.get("walletA", "/api/v1/models")["models"]]
    page.screenshot(path=screenshots / "models.png", full_page=True)


def test_the_model_page_shows_the_lineage_and_cumulative_improvement_the_api_returns(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    lineage = platform.get("owner1", "/api/v1/models/m1/lineage")
    page = browse.page("owner1")
    page.goto("/ui/models/m1")
    cumulative = shown_gain(lineage["cumulative_improvement"], lineage["unit"])
    assert page.locator("#cumulative").inner_text() == cumulative
    rows = page.locator("#versions tbody tr")
    assert rows.count() == len(lineage["versions"])
    for row, version in zip(rows.all(), lineage["versions"], strict=True):
        shown = cells(row)
        assert shown[0] == version["version"] and shown[1] == version["role"]
        if version.get("run_id"):
            assert shown[4] == shown_gain(version["gain"], version["unit"])
            assert shown[6] == version["run_id"]
    chart = page.locator("svg.chart")
    evaluated = [v for v in lineage["versions"] if v.get("run_id")]
    assert chart.locator("circle").count() == 2 * len(lineage["versions"])  # a dot per version per panel
    first = evaluated[0]["metric_deltas"][evaluated[0]["primary_metric"]]
    assert f"{first['candidate']:.4f}" in (chart.text_content() or "")
    assert f"{first['baseline']:.4f}" in (chart.text_content() or "")
    assert f"Cumulative improvement {lineage['cumulative_improvement']:+.2f}" in (
        chart.locator("desc").text_content() or ""
    )
    page.screenshot(path=screenshots / "model.png", full_page=True)


def test_the_model_page_shows_the_benchmark_spec_the_api_returns(
    browse: Browsing, platform: Platform
) -> None:
    specs = platform.get("walletA", "/api/v1/benchmarks?model=m1")["benchmarks"]
    current = next(s for s in specs if s["current"])
    page = browse.page("walletA")
    page.goto("/ui/models/m1")
    spec = page.locator("#spec")
    assert current["hash"] in spec.inner_text()
    assert current["spec"]["benchmark_sha256"] in spec.inner_text()
    assert f"v{current['version']}" in spec.inner_text()
    assert str(current["spec"]["min_benchmark_rows"]) in spec.inner_text()


def test_the_model_page_lists_the_contributions_and_runs_its_reader_may_read(
    browse: Browsing, platform: Platform
) -> None:
    contributions = platform.get("owner1", "/api/v1/models/m1/contributions")["contributions"]
    page = browse.page("owner1")
    page.goto("/ui/models/m1")
    shown = page.locator("section:has(#contributions) tbody tr th").all_inner_texts()
    assert sorted(shown) == sorted(c["id"] for c in contributions)
    runs = page.locator("section:has(#runs) tbody tr")
    assert platform.ids["run"] in runs.locator("th").all_inner_texts()
    for row in runs.all():
        run_id, state, outcome, *_ = cells(row)
        api = platform.get("owner1", f"/api/v1/runs/{run_id}")
        assert (state, outcome) == (api["state"], api["outcome"] or "—")


def test_the_run_page_shows_the_verdict_and_every_metric_of_the_report(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    run = platform.get("walletA", f"/api/v1/runs/{platform.ids['run']}")
    report = platform.get("walletA", f"/api/v1/attestations/{run['attestation_id']}/report")
    page = browse.page("walletA")
    page.goto(f"/ui/runs/{run['id']}")
    assert page.locator("#run-state").inner_text() == run["state"]
    assert page.locator("#outcome").inner_text() == run["outcome"]
    assert page.locator("#reason-text").inner_text() == report["outcome"]["reason_text"]
    assert page.locator("#delta-one").inner_text() == f"{run['delta_one_score']:.2f}"
    assert set(
        page.locator("#metric-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.metric)")
    ) == set(report["metrics"])
    for name, metric in report["metrics"].items():
        row = cells(page.locator(f'#metric-table tr[data-metric="{name}"]'))
        assert row[1:5] == [
            f"{metric['baseline']:.4f}",
            f"{metric['candidate']:.4f}",
            shown_gain(metric["gain"], metric["unit"]),
            shown_interval(metric["ci_low"], metric["ci_high"]),
        ], name
    page.screenshot(path=screenshots / "run.png", full_page=True)


def test_the_run_page_shows_each_contributor_with_value_method_near_copies_weight_payout_and_terms(
    browse: Browsing, platform: Platform
) -> None:
    wallet = platform.wallets["walletA"].address
    impact = platform.get("walletA", f"/api/v1/contributors/{wallet}/impact")
    entry = next(a for a in impact["models"]["m1"]["attestations"] if a["run_id"] == platform.ids["run"])
    run = platform.get("walletA", f"/api/v1/runs/{platform.ids['run']}")
    report = platform.get("walletA", f"/api/v1/attestations/{run['attestation_id']}/report")
    (reported,) = report["contributions"]
    page = browse.page("walletA")
    page.goto(f"/ui/runs/{platform.ids['run']}")
    (row,) = page.locator("#contributor-table tbody tr").all()
    contribution, shown_wallet, value, method, near, weight, paid, terms = cells(row)
    assert (contribution, shown_wallet) == (platform.ids["contribution"], wallet)
    assert terms.startswith("CC-BY-4.0: commercial use yes") and terms.endswith(reported["terms_hash"])
    assert value.startswith(f"{entry['value_pp']:+.2f}") and value.endswith("pp")
    assert method == f"{reported['method']}, {reported['retrains']} retrains"
    assert near == str(entry["near_duplicates"])
    assert weight == shown_weight(round(entry["weight"] * 10_000))
    assert reported["paid"] is (reported["weight_bps"] > 0)
    assert paid == ("yes: " if reported["paid"] else "no: ") + REASONS[reported["reason"]]
    assert row.get_attribute("data-reason") == reported["reason"]


def test_the_run_page_shows_the_plots_the_worker_drew_with_alt_text(
    browse: Browsing, platform: Platform
) -> None:
    page = browse.page("walletA")
    page.goto(f"/ui/runs/{platform.ids['run']}")
    images = page.locator("section:has(#plots) img")
    assert images.count() >= 1
    for image in images.all():
        image.scroll_into_view_if_needed()
        assert image.get_attribute("alt")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        answer = page.request.get(image.get_attribute("src"))
        assert answer.status == 200 and answer.headers["content-type"] == "image/png"
        assert answer.body()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_plot_name_that_the_worker_did_not_write_is_not_found(browse: Browsing, platform: Platform) -> None:
    page = browse.page("walletA")
    for name in ("..%2F..%2Fhokusai.db", "nothing.png", "..%2Fattestation.json"):
        answer = page.request.get(f"/ui/runs/{platform.ids['run']}/plots/{name}")
        assert answer.status == 404, name


def test_the_verify_action_reports_valid_with_every_check_the_api_gives(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    document = platform.get("walletA", f"/api/v1/attestations/{platform.ids['attestation']}")
    with platform.api("walletA") as client:
        verdict = client.post("/api/v1/attestations/verify", json={"attestation": document}).json()
    assert verdict["valid"]
    page = browse.page("walletA")
    page.goto(f"/ui/attestations/{platform.ids['attestation']}")
    page.get_by_role("button", name="Verify this attestation").click()
    assert page.locator("#verdict").inner_text() == "VALID"
    rows = [cells(r) for r in page.locator("#checks tbody tr").all()]
    assert rows == [[c["name"], "pass" if c["ok"] else "fail", c["reason"]] for c in verdict["checks"]]
    page.screenshot(path=screenshots / "attestation-verified.png", full_page=True)


def test_an_accepted_attestation_page_is_public_with_its_fields_and_downloads(
    browse: Browsing, platform: Platform, screenshots: Path, tmp_path: Path
) -> None:
    attestation_id = platform.ids["attestation"]
    document = httpx.get(f"{platform.url}/api/v1/attestations/{attestation_id}").raise_for_status().json()
    report = (
        httpx.get(f"{platform.url}/api/v1/attestations/{attestation_id}/report").raise_for_status().json()
    )
    page = browse.page()  # signed out
    page.goto(f"/ui/attestations/{attestation_id}")
    fields = page.locator("#attestation-fields").inner_text()
    seal = document["attestation"]
    for value in (seal["hash_tree_root"], seal["signature_blob"], seal["verification_key"]):
        assert value in fields
    assert document["metadata"]["pipeline_run_id"] in fields
    assert (
        page.locator("#attested-score").inner_text()
        == f"{document['delta_computation']['delta_one_score']:.2f}"
    )
    signed = cells(page.locator("#attested-contributors tbody tr").first)
    assert signed[0] == document["contributors"][0]["wallet_address"]
    page.screenshot(path=screenshots / "attestation-public.png", full_page=True)
    for link, expected in (("attestation.json", document), ("evaluation_report.json", report)):
        with page.expect_download() as download:
            page.get_by_role("link", name=link).click()
        saved = tmp_path / link
        download.value.save_as(saved)
        assert json.loads(saved.read_text()) == expected
    page.get_by_role("button", name="Verify this attestation").click()
    assert page.locator("#verdict").inner_text() == "VALID"


def test_the_mint_request_is_shown_to_the_model_owner_only(browse: Browsing, platform: Platform) -> None:
    with platform.api("owner1") as owner:
        mint = owner.get(f"/api/v1/runs/{platform.ids['run']}/mint-request").raise_for_status().json()
    page = browse.page("owner1")
    page.goto(f"/ui/attestations/{platform.ids['attestation']}")
    shown = page.locator("#mint-request").inner_text()
    for address in mint["signerAddresses"]:
        assert address in shown
    assert mint["domain"]["verifyingContract"] in shown
    contributor = browse.page("walletA")
    contributor.goto(f"/ui/attestations/{platform.ids['attestation']}")
    assert contributor.locator("#attestation-fields").is_visible()
    assert contributor.locator("#mint").count() == 0


def test_the_contributor_page_shows_the_impact_contributions_and_runs_the_api_returns(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    wallet = platform.wallets["walletA"].address
    impact = platform.get("walletA", f"/api/v1/contributors/{wallet}/impact")
    page = browse.page("walletA")
    page.get_by_role("link", name="My contributions").click()
    page.wait_for_url(f"**/ui/contributors/{wallet}")
    assert page.locator("#weighted-delta-one").inner_text() == f"{impact['weighted_delta_one']:.4f}"
    totals = page.locator("#impact-totals").inner_text()
    assert (
        f"Contributions\n{impact['contributions']}" in totals and f"Finished runs\n{impact['runs']}" in totals
    )
    runs = page.locator("section:has(#runs) tbody tr th").all_inner_texts()
    assert runs == [a["run_id"] for a in impact["models"]["m1"]["attestations"]]
    assert page.locator("section:has(#contributions) tbody tr th").all_inner_texts() == [
        platform.ids["contribution"]
    ]
    page.screenshot(path=screenshots / "contributor.png", full_page=True)


def test_a_non_owner_cannot_see_another_owners_private_pages(browse: Browsing, platform: Platform) -> None:
    page = browse.page("owner2")
    for path in (
        f"/ui/runs/{platform.ids['run']}",
        f"/ui/contributors/{platform.wallets['walletA'].address}",
    ):
        answer = page.goto(path)
        assert answer is not None and answer.status == 404, path
        assert page.locator("h1").inner_text() == "Not found"
    assert page.request.get(f"/ui/runs/{platform.ids['run']}/state").status == 404
    page.goto("/ui/models/m1")  # the catalogue is public to the signed-in, the contributions are not
    assert platform.get("owner2", "/api/v1/models/m1/contributions")["contributions"] == []
    assert page.locator("section:has(#contributions)").inner_text().endswith("No contribution you may read.")
    assert page.locator("section:has(#runs)").inner_text().endswith("No run you may read.")


def test_a_state_changing_post_without_the_csrf_token_is_refused(
    browse: Browsing, platform: Platform
) -> None:
    page = browse.page("walletA")
    for body in ("", "csrf=forged"):
        status = page.evaluate(
            """body => fetch('/ui/sign-out', {method: 'POST', body,
                headers: {'Content-Type': 'application/x-www-form-urlencoded'}}).then(r => r.status)""",
            body,
        )
        assert status == 403
    page.goto("/ui/models")
    assert page.url.endswith("/ui/models")  # still signed in
    signed_out = browse.page()
    signed_out.goto("/ui/")
    key = platform.keys["walletA"]
    status = signed_out.evaluate(
        """key => fetch('/ui/sign-in', {method: 'POST', body: new URLSearchParams({api_key: key})})
            .then(r => r.status)""",
        key,
    )
    assert status == 403
    page.get_by_role("button", name="Sign out").click()  # the form's own token passes
    page.wait_for_url("**/ui/")
    assert not [c for c in page.context.cookies() if c["name"] == "hokusai_session"]


def test_revoking_the_key_ends_its_sessions_at_once(browse: Browsing, platform: Platform) -> None:
    with platform.api("owner1") as owner:
        made = (
            owner.post("/api/v1/keys", json={"name": "pages", "scopes": ["read"]}).raise_for_status().json()
        )
    platform.keys["owner1_pages"] = made["key"]
    page = browse.page("owner1_pages")
    with platform.api("owner1") as owner:
        owner.delete(f"/api/v1/keys/{made['id']}").raise_for_status()
    page.goto("/ui/models")
    assert "reason=key_revoked" in page.url
    assert "was revoked" in page.get_by_role("status").inner_text()
    assert not [c for c in page.context.cookies() if c["name"] == "hokusai_session"]


def _pages(platform: Platform) -> list[tuple[str, str]]:
    """Every page, with a user who may read it."""
    return [
        ("owner1", "/ui/models"),
        ("owner1", "/ui/models/m1"),
        ("owner1", f"/ui/runs/{platform.ids['run']}"),
        ("owner1", f"/ui/attestations/{platform.ids['attestation']}/verify"),
        ("walletA", f"/ui/contributors/{platform.wallets['walletA'].address}"),
    ]


CONTRAST = """() => {
  const parse = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || !el.offsetParent) continue;
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const a = lum(parse(getComputedStyle(el).color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(el.tagName + ' ' + ratio.toFixed(2) + ' ' + el.textContent.trim().slice(0, 30));
  }
  return low;
}"""


def test_every_page_has_a_language_one_heading_labels_alt_text_contrast_and_keyboard_focus(
    browse: Browsing, platform: Platform
) -> None:
    pages = {actor: browse.page(actor) for actor in ("owner1", "walletA")}
    for actor, path in _pages(platform):
        page = pages[actor]
        assert page.goto(path).ok, path  # type: ignore[union-attr]
        assert page.locator("html").get_attribute("lang") == "en", path
        assert page.locator("h1").count() == 1, path
        assert page.locator("img:not([alt]), img[alt='']").count() == 0, path
        unlabelled = page.locator("input:not([type=hidden])").evaluate_all(
            "inputs => inputs.filter(i => !i.labels.length).map(i => i.name)"
        )
        assert unlabelled == [], path
        assert page.evaluate(CONTRAST) == [], path
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content", path
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "content", path


WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll('body *')]
  .filter(el => !el.parentElement.closest('.scroll')
    && (el.getBoundingClientRect().right > window.innerWidth + 1
    || (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible')))
  .map(el => el.tagName + '.' + el.className + ' ' + el.scrollWidth + '/' + el.clientWidth + ' '
    + (el.textContent || '').trim().slice(0, 40))"""


def test_the_pages_fit_a_phone_screen_without_sideways_scrolling(
    browse: Browsing, platform: Platform, screenshots: Path
) -> None:
    pages = {actor: browse.page(actor, viewport=PHONE) for actor in ("owner1", "walletA")}
    for actor, path in _pages(platform):
        page = pages[actor]
        assert page.goto(path).ok, path  # type: ignore[union-attr]
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert overflow <= 0, (path, overflow, wide)
    page = pages["owner1"]
    page.goto(f"/ui/runs/{platform.ids['run']}")
    page.screenshot(path=screenshots / "phone-run.png", full_page=True)
    page.goto("/ui/models/m1")
    page.screenshot(path=screenshots / "phone-model.png", full_page=True)


def test_the_browser_requested_nothing_but_the_platform_on_loopback(
    browse: Browsing, platform: Platform, traffic: Traffic
) -> None:
    pages = {actor: browse.page(actor) for actor in ("owner1", "walletA")}
    for actor, path in _pages(platform):
        assert pages[actor].goto(path).ok, path  # type: ignore[union-attr]
        pages[actor].wait_for_load_state("networkidle")
    assert traffic.origin.startswith("http://127.0.0.1:")
    assert traffic.blocked == []
    assert any(url.endswith("/ui/static/style.css") for url in traffic.allowed)
    assert all(url.startswith(traffic.origin + "/") for url in traffic.allowed)
