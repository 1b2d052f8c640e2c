/* lakebox dashboard: charts with plotly.js (served from the installed plotly package).
 *
 * Chart text is entity-escaped for plotly's pseudo-HTML. Colours are the Okabe-Ito palette (safe for the
 * common colour-vision deficiencies); axis titles are readable labels; the legend sits above the plot so
 * it never meets the x tick labels; a last, partial month is drawn dashed and labelled.
 */
"use strict";
(function () {
  const LB = window.LB;
  const h = LB.h;
  const COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const CHART_ROWS = 15;

  /** plotly renders labels as pseudo-HTML: escape so a name shows as the text it is. */
  const plotText = (LB.plotText = function plotText(v) {
    return String(v === null || v === undefined ? "NULL" : v)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  });

  function themeColors() {
    const css = getComputedStyle(document.documentElement);
    const v = (name) => css.getPropertyValue(name).trim();
    return { ink: v("--ink-2"), grid: v("--line"), muted: v("--muted"), card: v("--card") };
  }

  /** The views a query's result can be shown as: its own chart type first, then the others, then a table. */
  LB.viewsFor = function viewsFor(hint) {
    const t = (hint && hint.type) || "";
    if (!hint || !hint.x || !hint.y || t === "table" || !t) return ["table"];
    if (t === "line") return ["line", "bar", "table"];
    if (t === "donut" || t === "pie") return ["donut", "bar", "table"];
    return ["bar", "line", "table"];
  };

  function tickFormat(col) {
    return LB.isMoney(col) ? "$,.0f" : ",.0f";
  }

  function hover(col) {
    return LB.isMoney(col) ? "$%{y:,.2f}" : "%{y:,}";
  }

  /** Whether the month bucket ``v`` (YYYY-MM-01...) is not over at the reference date ``asOf`` (YYYY-MM-DD). */
  function isPartialMonth(v, asOf) {
    const m = /^(\d{4})-(\d{2})/.exec(String(v));
    const d = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(asOf || ""));
    if (!m || !d) return false;
    return m[1] + m[2] >= d[1] + d[2];
  }

  /**
   * Draw result ``p`` ({columns, rows, chart}) into ``div`` as ``view`` (bar, line, donut; table draws
   * nothing). opts.asOf: the reference date, whose month is drawn as partial.
   */
  LB.drawChart = function drawChart(div, p, view, opts) {
    opts = opts || {};
    if (!window.Plotly) { div.textContent = "Charts are unavailable (plotly.js did not load)."; return; }
    const hint = p.chart || {};
    const cols = p.columns || [];
    const names = cols.map((c) => c.name);
    const xi = names.indexOf(hint.x);
    const yis = (hint.y || []).map((y) => names.indexOf(y)).filter((i) => i >= 0);
    const rows = p.rows || [];
    if (view === "table" || xi < 0 || !yis.length || !rows.length) {
      Plotly.purge(div);
      div.replaceChildren();
      div.dataset.drawn = "none";
      if (view !== "table" && !rows.length && opts.emptyText) div.append(h("p", { class: "muted empty", text: opts.emptyText }));
      return;
    }
    if (!div.querySelector(".plot-container")) div.replaceChildren();
    const theme = themeColors();
    const narrow = div.clientWidth < 480;
    const xcol = cols[xi];
    const month = LB.isMonthColumn(xcol, rows, xi);
    const xs = rows.map((r) => plotText(LB.fmtValue(r[xi], xcol, month)));
    const layout = {
      margin: { l: 8, r: 8, t: 8, b: 8 }, font: { family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: theme.ink },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", showlegend: false, height: 300, colorway: COLORS,
      hoverlabel: { bgcolor: theme.card, font: { color: theme.ink } }, annotations: [],
    };
    const axis = { automargin: true, gridcolor: theme.grid, linecolor: theme.grid, zerolinecolor: theme.grid, tickfont: { color: theme.ink } };
    let traces;
    if (view === "line") {
      const partial = month && isPartialMonth(rows[rows.length - 1][xi], opts.asOf);
      traces = [];
      yis.slice(0, 2).forEach((yi, k) => {
        const ys = rows.map((r) => r[yi]);
        const color = COLORS[k];
        const base = { type: "scatter", x: xs, yaxis: k ? "y2" : "y", name: plotText(LB.label(names[yi])),
          hovertemplate: "%{x}<br>" + plotText(LB.label(names[yi])) + ": " + hover(cols[yi]) + "<extra></extra>" };
        const full = partial ? ys.map((y, i) => (i < ys.length - 1 ? y : null)) : ys;
        traces.push(Object.assign({}, base, { mode: "lines+markers", y: full, line: { width: 3, color }, marker: { size: 7, color } }));
        if (partial && ys.length > 1) {
          traces.push(Object.assign({}, base, { mode: "lines+markers", showlegend: false, y: ys.map((y, i) => (i >= ys.length - 2 ? y : null)),
            line: { width: 2, dash: "dot", color }, marker: { size: 8, color: theme.card, line: { width: 2, color } } }));
        }
      });
      const ycol = cols[yis[0]];
      Object.assign(layout, {
        showlegend: yis.length > 1,
        legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom", font: { color: theme.ink } },
        margin: { l: 8, r: 8, t: yis.length > 1 ? 36 : 8, b: 8 },
        xaxis: Object.assign({}, axis, { type: "category", tickangle: narrow ? -45 : "auto" }),
        yaxis: Object.assign({}, axis, { title: { text: plotText(LB.label(ycol.name)) }, tickformat: tickFormat(ycol), rangemode: "tozero" }),
      });
      if (yis.length > 1) {
        const y2 = cols[yis[1]];
        layout.yaxis2 = Object.assign({}, axis, { title: { text: plotText(LB.label(y2.name)) }, overlaying: "y", side: "right",
          showgrid: false, showticklabels: true, ticks: "outside", tickformat: tickFormat(y2), rangemode: "tozero" });
      }
      if (partial) {
        layout.annotations.push({ x: xs[xs.length - 1], y: 0, yref: "paper", yanchor: "bottom", text: "partial month",
          showarrow: false, font: { size: 11, color: theme.muted }, xanchor: "right" });
      }
    } else if (view === "donut") {
      traces = [{ type: "pie", hole: 0.58, labels: rows.map((r) => plotText(r[xi])), values: rows.map((r) => r[yis[0]]),
        sort: false, texttemplate: "%{label}<br>%{percent:.1%}", textposition: "outside", automargin: false,
        hovertemplate: "%{label}: %{value:,} (%{percent:.1%})<extra></extra>", marker: { colors: COLORS, line: { color: theme.card, width: 2 } },
        outsidetextfont: { color: theme.ink } }];
      // fixed margins wide enough for "cancelled 12.3%": plotly's automargin for outside labels oscillates
      Object.assign(layout, { margin: { l: 80, r: 80, t: 44, b: 44 } });
    } else if (month) {
      const ycol = cols[yis[0]];
      traces = [{ type: "bar", x: xs, y: rows.map((r) => r[yis[0]]), marker: { color: COLORS[0] },
        hovertemplate: "%{x}: " + hover(ycol) + "<extra></extra>" }];
      Object.assign(layout, {
        xaxis: Object.assign({}, axis, { type: "category", tickangle: narrow ? -45 : "auto" }),
        yaxis: Object.assign({}, axis, { title: { text: plotText(LB.label(ycol.name)) }, tickformat: tickFormat(ycol) }),
      });
    } else {
      const top = rows.slice(0, CHART_ROWS);
      const ycol = cols[yis[0]];
      traces = [{ type: "bar", orientation: "h", y: top.map((r) => plotText(LB.fmtValue(r[xi], xcol))), x: top.map((r) => r[yis[0]]),
        marker: { color: COLORS[0] }, hovertemplate: "%{y}: " + hover(ycol).replace("%{y", "%{x") + "<extra></extra>",
        text: top.map((r) => plotText(LB.fmtValue(r[yis[0]], ycol))), textposition: "inside", insidetextanchor: "end",
        textfont: { color: "#ffffff" }, cliponaxis: false }];
      Object.assign(layout, {
        height: Math.max(200, 28 * top.length + 60), bargap: 0.25,
        yaxis: Object.assign({}, axis, { type: "category", autorange: "reversed", title: { text: plotText(LB.label(xcol.name)) } }),
        xaxis: Object.assign({}, axis, { title: { text: plotText(LB.label(ycol.name)) }, tickformat: LB.isMoney(ycol) ? "$~s" : "~s", nticks: narrow ? 4 : 8 }),
      });
    }
    Plotly.react(div, traces, layout, { displayModeBar: false, responsive: true });
    div.dataset.drawn = view;
  };

  /**
   * Download the chart as a PNG. Plotly's own downloadImage loads a blob: URL, which the page's CSP refuses
   * (img-src 'self' data:), so the chart goes SVG (data: URL) -> image -> canvas -> PNG data: URL here.
   */
  LB.downloadChart = async function downloadChart(div, filename) {
    if (!window.Plotly || !div.querySelector(".plot-container")) return false;
    const scale = 2;
    const width = Math.max(div.clientWidth, 320);
    const height = div.clientHeight || 300;
    const svg = await Plotly.toImage(div, { format: "svg", width, height });
    const img = new Image();
    await new Promise((resolve, reject) => { img.onload = resolve; img.onerror = reject; img.src = svg; });
    const canvas = document.createElement("canvas");
    canvas.width = width * scale;
    canvas.height = height * scale;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = themeColors().card || "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    const a = h("a", { href: canvas.toDataURL("image/png"), download: filename + ".png" });
    document.body.append(a);
    a.click();
    a.remove();
    return true;
  };
})();
