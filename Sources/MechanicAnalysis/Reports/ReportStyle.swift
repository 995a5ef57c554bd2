/// The report's stylesheet (inline; no web fonts). Free of `<`, `>` and `&` so that the whole
/// document stays well-formed XML.
enum ReportStyle {
    static let css = """
    :root { --ink: #1d2330; --muted: #667085; --line: #e4e7ec; --accent: #2457a6; --bg: #f6f7f9; }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--ink);
      font: 14px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
    header { background: #fff; border-bottom: 1px solid var(--line); padding: 22px 40px 14px; }
    h1 { margin: 0 0 8px; font-size: 24px; letter-spacing: -0.01em; }
    .meta { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 0; color: var(--muted); font-size: 13px; }
    .meta div { display: flex; gap: 6px; }
    .meta dt { font-weight: 600; color: #475467; }
    .meta dd { margin: 0; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; white-space: pre-wrap; }
    nav { padding: 10px 40px; background: #fff; border-bottom: 1px solid var(--line); font-size: 13px; }
    nav span { color: var(--muted); margin-right: 12px; font-weight: 600; }
    nav a { color: var(--accent); text-decoration: none; margin-right: 16px; }
    main { max-width: 1180px; padding: 8px 40px 40px; }
    h2 { font-size: 19px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
    h3 { font-size: 15px; margin: 20px 0 6px; }
    p { margin: 6px 0 10px; max-width: 900px; }
    p.note { color: var(--muted); font-size: 12.5px; }
    .fig { display: inline-block; vertical-align: top; background: #fff; border: 1px solid var(--line);
      border-radius: 8px; padding: 12px 16px 10px; margin: 8px 12px 10px 0; box-shadow: 0 1px 2px rgba(16,24,40,0.05); max-width: 100%; }
    .fig.wide { display: block; }
    .figtitle { font-weight: 650; font-size: 14.5px; margin-bottom: 6px; }
    .figbody { overflow-x: auto; }
    figcaption { color: var(--muted); font-size: 12.5px; margin-top: 6px; max-width: 860px; }
    svg text { white-space: pre; font-family: -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; }
    svg text.tok { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
    .tablewrap { overflow-x: auto; }
    table { border-collapse: collapse; background: #fff; margin: 8px 0 14px; font-size: 13px; border: 1px solid var(--line); }
    caption { text-align: left; font-weight: 650; padding: 4px 0 6px; }
    th { background: #f2f4f7; text-align: left; font-weight: 600; padding: 5px 10px; border-bottom: 1px solid var(--line); }
    td { padding: 4px 10px; border-bottom: 1px solid #f0f1f3; }
    td.num { text-align: right; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
    td.tokcell { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; white-space: pre; }
    td.tokcell small { display: block; color: inherit; opacity: 0.8; font-size: 10.5px; }
    td.target { outline: 2px solid #e8590c; outline-offset: -2px; }
    .grid { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: flex-start; }
    .panel { border: 1px solid #eef0f3; border-radius: 6px; padding: 6px 8px 4px; }
    .panel-title { font-weight: 650; font-size: 13px; }
    .panel-title span { font-weight: 400; color: var(--muted); margin-left: 6px; font-size: 12px; }
    .toks { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; line-height: 1.9; white-space: pre-wrap; }
    .toks span { border-radius: 3px; padding: 1px 1px; margin-right: 1px; }
    .toks span.focus { outline: 2px solid #111; outline-offset: 0; }
    .strip { display: flex; flex-wrap: wrap; gap: 4px 3px; align-items: flex-start; }
    .strip .t { display: inline-flex; flex-direction: column; align-items: center; border: 1px solid #d0d5dd;
      border-radius: 4px; background: #fff; padding: 1px 4px 0; min-width: 16px; }
    .strip .t b { font: 500 13px/1.5 "DejaVu Sans Mono", Menlo, Consolas, monospace; white-space: pre; }
    .strip .t small { color: var(--muted); font-size: 10px; line-height: 1.3; }
    .strip .t.focus { outline: 2px solid #e8590c; outline-offset: 0; }
    .strip .t.answer { background: #e6f4ea; border-color: #2b8a3e; }
    .strip .t.changed { background: #fff3bf; border-color: #e0a800; }
    .sidebyside { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 10px 24px; }
    .sidebyside .panel-title { margin: 2px 0 4px; }
    .chip { display: inline-block; border-radius: 4px; padding: 0 5px; margin: 1px 0; white-space: pre;
      font: 12px/1.6 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
    .chip small { color: #475467; margin-left: 5px; font-size: 10.5px; }
    .chip.up { background: #fde0d9; }
    .chip.down { background: #dbe9f6; }
    .tables { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
    .tabletitle { font-weight: 650; font-size: 13px; margin-top: 8px; }
    tr.hl td { background: #fff4e6; font-weight: 600; }
    footer { color: var(--muted); font-size: 12px; padding: 10px 40px 30px; }
    """
}
