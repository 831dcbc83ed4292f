"""officeplan's web app: planners move levers and compare plans, analysts fix workbooks in place,
decision makers read the map and download the plan.

A thin shell over the engine's API: the input sheets (`optimizer.input_tables`) are the one
truth about the inputs, validated by `problem_from_sheets`; each browser session solves in a
worker process of its own (`optimizer.background`), which keeps distances, the previous
plan and today's network between solves; plans are kept in a SQLite file
(`optimizer.scenarios`).  Start it with `make app` (or `streamlit run app.py`).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import streamlit as st

from optimizer.background import BackgroundSolver
from optimizer.compare import figures_side_by_side, sites_that_differ
from optimizer.errors import InputError
from optimizer.figures_format import ACTION_COUNTS, Headline, format_short, format_short_change, format_value, headline
from optimizer.input_tables import (
    Sheets,
    apply_edits,
    editable_sheets,
    problem_rows,
    problems_by_sheet,
    setting,
    with_agency_limit,
    with_force,
    with_setting,
    workbook_bytes,
)
from optimizer.maps import legend, plan_deck
from optimizer.plan import Plan, agencies_table
from optimizer.plan_workbook import write_plan
from optimizer.problem import Problem
from optimizer.scenarios import NameTaken, ScenarioStore, default_store_path
from optimizer.summary import cost_split, summary_html
from optimizer.workbook import FILE, SHEETS, problem_from_sheets, read_sheets

INPUTS = Path(__file__).parent / "inputs"
SAMPLES = {"Swedish national case": INPUTS / "sweden.xlsx", "Demo (6 areas)": INPUTS / "demo.xlsx"}
UPLOAD = "Upload a workbook"
POLL_S = 0.5

st.set_page_config(page_title="officeplan", page_icon="🏢", layout="wide")
ss = st.session_state


# --- shared, read-once resources ---------------------------------------------------------


@st.cache_data(show_spinner=False)
def sample_sheets(path: str) -> Sheets:
    """A sample's sheets, read once for every session (each gets its own copy)."""
    data = Path(path).read_bytes()
    return editable_sheets(read_sheets(data, Path(path).name))


@st.cache_resource(show_spinner=False)
def store_at(path: str) -> ScenarioStore:
    return ScenarioStore(path)


def store() -> ScenarioStore:
    """The scenario store shared by all sessions ($OFFICEPLAN_STORE, else plans/scenarios.sqlite)."""
    return store_at(str(default_store_path()))


# --- session state -------------------------------------------------------------------------


def load(sheets: Sheets, name: str) -> None:
    """New inputs: every grid and lever starts again from them; the plan shown is cleared."""
    ss.sheets, ss.source_name = sheets, name
    ss.version = ss.get("version", 0) + 1
    ss.plan = ss.plan_problem = ss.plan_sheets = None
    ss.selected_site = None


def change(sheets: Sheets) -> None:
    """Edited inputs: grids and levers are redrawn from them (a new version), the plan stays."""
    ss.sheets = sheets
    ss.version += 1


def start_session() -> None:
    if "sheets" in ss:
        return
    name = next(iter(SAMPLES))
    load(sample_sheets(str(SAMPLES[name])), SAMPLES[name].name)
    ss.solver = BackgroundSolver()
    ss.solve_sheets = ss.solve_problem = None
    ss.notice = None


def validated() -> tuple[Problem | None, dict[str, list]]:
    """The inputs as a problem, or the problems found, computed once per version."""
    if ss.get("validated_version") != ss.version:
        try:
            ss.validated = (problem_from_sheets(ss.sheets), {})
        except InputError as error:
            ss.validated = (None, problems_by_sheet(error))
        ss.validated_version = ss.version
    return ss.validated


# --- levers: each writes one cell of the sheets -----------------------------------------------


def _number_or_none(value: object) -> float | None:
    try:
        return None if value is None or value == "" else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def set_setting_from(widget_key: str, key: str) -> None:
    change(with_setting(ss.sheets, key, ss[widget_key]))


def set_agency_limit_from(widget_key: str, agency_id: str) -> None:
    change(with_agency_limit(ss.sheets, agency_id, ss[widget_key]))


LOCKS = {"Let the plan decide": None, "Lock open": "open", "Lock closed": "closed"}


def set_lock_from(widget_key: str, site_id: str) -> None:
    change(with_force(ss.sheets, site_id, LOCKS[ss[widget_key]]))


def lever_number(label: str, key: str, step: float, help: str, integer: bool = False) -> None:
    value = _number_or_none(setting(ss.sheets, key))
    widget = f"lever-{key}-{ss.version}"
    st.number_input(
        label,
        value=(int(value) if integer else value) if value is not None else None,
        min_value=0 if integer else 0.0,
        step=int(step) if integer else step,
        format="%d" if integer else "%.0f" if step >= 1 else "%.3f",
        key=widget,
        on_change=set_setting_from,
        args=(widget, key),
        help=help,
        placeholder="no limit",
    )
    if value is not None and not integer and step >= 1000:
        st.caption(format_value(value, "kr"))


def levers(problem: Problem) -> None:
    """In the sidebar, so that moving one and reading the plan need no scrolling."""
    st.header("Levers")
    lever_number("Annual budget (kr/year)", "budget_annual", 1e6, "Sites, agency presence and staff per year.")
    lever_number("One-off budget (kr)", "budget_one_off", 1e6, "Opening, closing and setting up, once.")
    lever_number("Max distance, all agencies (km)", "max_distance_km", 5.0,
                 "Nobody may have farther to their office than this (road km).")
    c1, c2 = st.columns(2)
    with c1:
        lever_number("Min offices", "min_offices", 1, "At least this many offices operate.", integer=True)
    with c2:
        lever_number("Max offices", "max_offices", 1, "At most this many offices operate.", integer=True)
    with st.expander("More: objective, travel, time limit"):
        lever_number("Travel cost (kr per visit-km)", "travel_cost_per_km", 1.0,
                     "What a km of citizens' travel is worth; 0 ignores travel.")
        widget = f"lever-objective-{ss.version}"
        current = str(setting(ss.sheets, "objective") or "cost").strip().lower()
        st.selectbox("Objective", ["cost", "coverage"], index=0 if current != "coverage" else 1, key=widget,
                     on_change=set_setting_from, args=(widget, "objective"),
                     help="cost: everyone served at least cost. coverage: serve as many visits as the "
                          "budgets allow, then at least cost.")
        lever_number("Time limit (s)", "time_limit_s", 10.0, "HiGHS stops after this and keeps its best plan.")
    with st.expander("Distance limit per agency"):
        for agency in problem.agencies:
            widget = f"lever-limit-{agency.agency_id}-{ss.version}"
            st.number_input(f"{agency.name} (km)", value=agency.max_distance_km, min_value=0.0, step=5.0,
                            key=widget, on_change=set_agency_limit_from, args=(widget, agency.agency_id),
                            placeholder="as for all", help="Blank: the limit for all agencies applies.")
    with st.expander("Lock a site open or closed", expanded=ss.get("selected_site") is not None):
        lock_site(problem)


def lock_site(problem: Problem) -> None:
    """Lock a site open or closed: pick it on the map (Plan, below) or in this list."""
    labels = {s.site_id: f"{s.name} ({s.site_id}, {s.status})" for s in problem.sites}
    ids = list(labels)
    selected = ss.get("selected_site")
    picker = f"lock-site-{ss.version}"
    site_id = st.selectbox("Site", ids, index=ids.index(selected) if selected in ids else 0,
                           format_func=labels.get, key=picker)
    site = next(s for s in problem.sites if s.site_id == site_id)
    lock = f"lock-{site_id}-{ss.version}"
    st.radio("Lock", list(LOCKS), index=list(LOCKS.values()).index(site.force), key=lock, horizontal=True,
             on_change=set_lock_from, args=(lock, site_id))
    locked = [f"{s.name} ({s.force})" for s in problem.sites if s.force]
    st.caption("Locked: " + (", ".join(locked) if locked else "none"))


# --- solving ---------------------------------------------------------------------------------


def start_solve(problem: Problem) -> None:
    ss.solve_problem, ss.solve_sheets = problem, {k: v.copy() for k, v in ss.sheets.items()}
    ss.solver.submit(problem)


def finish(plan: Plan) -> None:
    ss.plan, ss.plan_problem, ss.plan_sheets = plan, ss.solve_problem, ss.solve_sheets
    ss.plan_version = ss.version


@st.fragment(run_every=POLL_S)
def progress() -> None:
    """While HiGHS works: elapsed time, best plan and bound; polled, so the page never blocks."""
    result = ss.solver.poll()
    if result is not None:
        finish(result)
        st.rerun()
    p = ss.solver.progress
    if p is None:
        return
    parts = [f"Solving… {p.seconds:,.1f} s"]
    if p.incumbent is not None:
        parts.append(f"best plan {format_value(p.incumbent, 'kr/year')}")
    if p.bound is not None:
        parts.append(f"bound {format_value(p.bound, 'kr/year')}")
    if p.gap is not None:
        parts.append(f"gap {p.gap:.2%}")
    st.info(" · ".join(parts), icon="⏳")
    st.button("Stop and keep the best plan so far", on_click=ss.solver.stop, key="stop")


# --- reading a plan ----------------------------------------------------------------------------


def metric(row: Headline, plan: Plan, container) -> None:
    """A figure as a tile, its change against today's network below; the exact value on hover."""
    value = plan.figures.get(row.key)
    before = plan.today.get(row.key) if plan.today else None
    delta = format_short_change(value, before, row.unit) if before is not None else None
    colour = {"lower": "inverse", "higher": "normal", None: "off"}[row.better]
    exact = f"{format_value(value, row.unit)}; today {format_value(before, row.unit)}" if before is not None else None
    container.metric(row.label, format_short(value, row.unit), delta=delta, delta_color=colour, help=exact)


def figures(problem: Problem, plan: Plan) -> None:
    rows = headline(problem)
    for start in range(0, len(rows), 4):
        cols = st.columns(4)
        for col, row in zip(cols, rows[start:start + 4]):
            metric(row, plan, col)
    counts = " · ".join(f"{label}: {int(plan.figures.get(key, 0)):,}" for key, label in ACTION_COUNTS)
    today = "" if plan.today else f" Today's network could not be compared: {plan.today_message}"
    st.caption(f"Offices — {counts}.{today}")


def legend_line() -> None:
    parts = [f"<span style='color:{colour}'>●</span> {name}" for name, colour in legend()["actions"].items()
             if name != "today"]
    areas = [f"<span style='color:{colour}'>■</span> {name}" for name, colour in legend()["distance"].items()]
    st.markdown("Offices: " + " &nbsp; ".join(parts) + " &nbsp;|&nbsp; Areas by distance: " + " &nbsp; ".join(areas),
                unsafe_allow_html=True)


def plan_map(problem: Problem, plan: Plan, key: str, selectable: bool = True, height: int = 560) -> None:
    deck = plan_deck(problem, plan, basemap=ss.get("basemap", False), height=height)
    if not selectable:
        st.pydeck_chart(deck, key=key)
        return
    event = st.pydeck_chart(deck, key=key, on_select="rerun", selection_mode="single-object")
    picked = (event.selection.get("objects") or {}).get("sites") if event and event.selection else None
    if picked and picked[0].get("site_id") != ss.get("selected_site"):
        ss.selected_site = picked[0]["site_id"]
        ss.version += 1  # redraw the lock picker on the picked site
        st.rerun()


def cost_chart(problem: Problem, plan: Plan) -> None:
    split = pd.DataFrame(cost_split(problem, plan.figures), columns=["part", "kr/year"]).dropna()
    st.bar_chart(split, x="part", y="kr/year", horizontal=True, height=220)


def downloads(problem: Problem, plan: Plan, key: str) -> None:
    buffer = io.BytesIO()
    write_plan(plan, problem, buffer)
    c1, c2 = st.columns(2)
    c1.download_button("Download the plan (.xlsx)", buffer.getvalue(), file_name="officeplan_plan.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"dl-plan-{key}")
    page = summary_html(problem, plan, title="Office network plan", date=dt.date.today())
    c2.download_button("Download a one-page summary (.html)", page, file_name="officeplan_summary.html",
                       mime="text/html", key=f"dl-summary-{key}")


def show_plan(problem: Problem, plan: Plan) -> None:
    box = st.success if plan.status == "optimal" else st.warning if plan.status == "feasible" else st.error
    box(f"**{plan.status.capitalize()}.** {plan.message}")
    if ss.get("plan_version") != ss.version:
        st.caption("The inputs have changed since this plan was solved; solve again to see their effect.")
    if not plan.solution.has_plan:
        return
    figures(problem, plan)
    left, right = st.columns([3, 2])
    with left:
        legend_line()
        plan_map(problem, plan, key="plan-map")
        st.caption("Click an office to pick it for locking (sidebar › Lock a site open or closed).")
    with right:
        st.markdown("**Cost split (kr/year)**")
        cost_chart(problem, plan)
        downloads(problem, plan, "current")
        save_form(plan)
    sites, agencies, changes, areas = st.tabs(["Sites", "Agencies", "Changes", "Areas"])
    sites.dataframe(plan.sites, hide_index=True, column_config=_money({"annual_cost": "Annual cost (kr/year)"}))
    agencies.dataframe(agencies_table(problem, plan), hide_index=True)
    changes.dataframe(plan.changes, hide_index=True)
    areas.dataframe(plan.areas, hide_index=True)


def _money(columns: dict[str, str]) -> dict:
    return {name: st.column_config.NumberColumn(label, format="localized") for name, label in columns.items()}


# --- keeping and comparing plans ------------------------------------------------------------------


def save_form(plan: Plan) -> None:
    with st.form("save-plan", clear_on_submit=False, border=True):
        name = st.text_input("Save this plan as", key="save-name", placeholder="e.g. Budget −5 %")
        replace = st.checkbox("Replace a saved plan of the same name", key="save-replace")
        if st.form_submit_button("Save plan"):
            try:
                store().save(name, ss.plan_sheets, plan, replace=replace)
                ss.notice = f"Saved as “{name.strip()}”."
            except NameTaken:
                ss.notice = f"A plan named “{name.strip()}” exists: tick ‘Replace’ or pick another name."
            except ValueError as error:
                ss.notice = str(error)
    if ss.get("notice"):
        st.info(ss.notice)


def saved_plans() -> None:
    listing = store().list()
    st.caption(f"Saved in {store().path}")
    if listing.empty:
        st.info("No saved plans yet: solve, then use “Save this plan as” beside the map.")
        return
    st.dataframe(listing, hide_index=True)
    names = st.multiselect("Compare 2 to 4 saved plans", list(listing["name"]), max_selections=4, key="compare")
    c1, c2 = st.columns(2)
    pick = c1.selectbox("Open or delete one", list(listing["name"]), key="saved-one")
    if c2.button("Open its inputs and plan", key="open-saved"):
        saved = store().load(pick)
        load(saved.inputs, f"saved plan {pick}")
        ss.plan, ss.plan_sheets, ss.plan_version = saved.plan, saved.inputs, ss.version
        ss.plan_problem = problem_from_sheets(saved.inputs)
        st.rerun()
    if c2.button("Delete it", key="delete-saved"):
        store().delete(pick)
        st.rerun()
    if len(names) >= 2:
        compare(names)


def compare(names: list[str]) -> None:
    saved = [store().load(name) for name in names]
    problems = [problem_from_sheets(s.inputs) for s in saved]
    st.subheader("Side by side")
    table = figures_side_by_side(headline(problems[0]), {s.name: s.plan.figures for s in saved})
    st.dataframe(table, hide_index=True)
    differ = sites_that_differ({s.name: s.plan for s in saved})
    st.markdown(f"**Sites whose action or agencies differ: {len(differ):,}**")
    st.dataframe(differ, hide_index=True)
    for col, s, problem in zip(st.columns(len(saved)), saved, problems):
        with col:
            st.markdown(f"**{s.name}**")
            plan_map(problem, s.plan, key=f"compare-map-{s.name}", selectable=False, height=420)


# --- inputs --------------------------------------------------------------------------------------


def commit(sheet: str, widget: str) -> None:
    change({**ss.sheets, sheet: apply_edits(ss.sheets[sheet], ss[widget])})


def inputs(found: dict[str, list]) -> None:
    st.download_button("Download these inputs (.xlsx)", workbook_bytes(ss.sheets), file_name="officeplan_inputs.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl-inputs")
    if FILE in found:
        for p in found[FILE]:
            st.error(p.message)
    names = [sheet.name for sheet in SHEETS if sheet.name in ss.sheets]
    missing = [sheet.name for sheet in SHEETS if sheet.name not in ss.sheets and sheet.name in found]
    for name in missing:
        st.error(f"Sheet '{name}': " + "; ".join(p.message for p in found[name]))
    labels = [f"{name} ⚠ {len(found[name])}" if name in found else name for name in names]
    for tab, name in zip(st.tabs(labels), names):
        with tab:
            if name in found:
                st.error(f"{len(found[name])} problem(s) in sheet '{name}'. Rows are numbered as in Excel "
                         "(the header is row 1), in the grid's first column too.")
                st.dataframe(problem_rows(found[name]), hide_index=True,
                             column_config={"problem": st.column_config.TextColumn(width="large")})
            widget = f"grid-{name}-{ss.version}"
            st.data_editor(ss.sheets[name], key=widget, num_rows="dynamic", on_change=commit, args=(name, widget),
                           hide_index=False, width="stretch", height=min(420, 38 + 35 * (len(ss.sheets[name]) + 1)))


# --- the page ------------------------------------------------------------------------------------


def sidebar() -> None:
    st.sidebar.title("officeplan")
    source = st.sidebar.radio("Start from", [*SAMPLES, UPLOAD], key="source")
    if source in SAMPLES and ss.get("loaded_source") != source:
        ss.loaded_source = source
        if ss.get("source_name") != SAMPLES[source].name:
            load(sample_sheets(str(SAMPLES[source])), SAMPLES[source].name)
    if source == UPLOAD:
        upload = st.sidebar.file_uploader("Input workbook (.xlsx)", type=["xlsx", "xlsm"], key="upload")
        if upload is not None and ss.get("loaded_source") != upload.file_id:
            ss.loaded_source = upload.file_id
            try:
                load(editable_sheets(read_sheets(upload.getvalue(), upload.name)), upload.name)
            except InputError as error:
                st.sidebar.error(error.report())
    st.sidebar.caption(f"Inputs: {ss.source_name}")
    st.sidebar.toggle("Base map from the web", key="basemap",
                      help="Off: offices and areas are drawn on a blank canvas, which works offline.")


def solve_controls(problem: Problem | None) -> None:
    running = ss.solver.running
    st.button("Solve", type="primary", disabled=running or problem is None, on_click=start_solve, args=(problem,),
              key="solve", width="stretch")
    if running:
        progress()


def main() -> None:
    start_session()
    sidebar()
    problem, found = validated()
    with st.sidebar:
        if problem is not None:
            solve_controls(problem)
            levers(problem)
    st.title("Office network plan")
    plan_tab, inputs_tab, saved_tab = st.tabs(["Plan", "Inputs", "Saved plans"])
    with inputs_tab:
        inputs(found)
    with plan_tab:
        if problem is None:
            count = sum(len(v) for v in found.values())
            st.error(f"The inputs have {count} problem(s); fix them in the Inputs tab (each is listed under its "
                     "sheet with its row and column).")
            for p in [p for v in found.values() for p in v][:10]:
                st.markdown(f"- {p}")
        elif ss.get("plan") is None and not ss.solver.running:
            st.info(f"{len(problem.areas):,} areas, {len(problem.sites):,} sites and {len(problem.agencies)} "
                    "agencies loaded. Move the levers in the sidebar, then press Solve.")
        if ss.get("plan") is not None:
            show_plan(ss.plan_problem, ss.plan)
    with saved_tab:
        saved_plans()


# Guarded, as multiprocessing requires: Streamlit runs this file as __main__, and a process
# started from a forkserver imports it again as __mp_main__, where it must not draw a page.
if __name__ == "__main__":
    main()
