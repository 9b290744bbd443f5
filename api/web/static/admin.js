/* ecert operator's dashboard (/admin): log in with an operator key, then the figures of
 * GET /api/v1/admin/stats per UTC day: a chart (uPlot, vendored) and a table for each
 * group. The tables hold exactly the API's numbers (every day, 0 included); each chart
 * draws the numbers of its table.
 *
 * Below them: the stars given to each venue and department, and what awaits follow-up
 * (low ratings, misuse reports, with the citizen's comment or text but never the
 * citizen), each with a "Resolved" button (POST /api/v1/admin/…).
 *
 * The operator key lives in sessionStorage only (gone when the tab closes); it is never
 * put in a URL. The range (from, to) is kept in the page, not in the address either.
 */
(function () {
  "use strict";

  var E = window.Ecert;
  var t = E.strings;
  var $ = E.$;

  var KEY = "ecert.admin.key";
  var MAX_DAYS = 92;
  // Charted groups (the others are tables only), in page order with the tables.
  var GROUPS = [
    { path: ["issuance", "by_department"], chart: true, names: "department" },
    { path: ["verification", "by_scene"], chart: true, names: "scene" },
    { path: ["proof_queries", "by_department"], chart: true, names: "department" },
    { path: ["issuance", "by_type"], chart: false, names: "type" },
    { path: ["verification", "by_venue"], chart: false, names: "none" },
    { path: ["verification", "refused"], chart: false, names: "scene" },
    { path: ["verification", "refusal_codes"], chart: false, names: "none" },
    { path: ["proof_queries", "by_proof_type"], chart: false, names: "none" },
    { path: ["proof_queries", "refused"], chart: false, names: "department" },
  ];
  // Colour-blind-safe palette (Okabe–Ito), then greys.
  var COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#777777"];

  var state = {
    key: null,
    charts: {},
    names: { department: {}, scene: {} },
    last: null,
    range: [null, null],
  };

  // -- session -------------------------------------------------------------------------

  function storage(value) {
    try {
      if (value === undefined) return window.sessionStorage.getItem(KEY);
      if (value === null) window.sessionStorage.removeItem(KEY);
      else window.sessionStorage.setItem(KEY, value);
    } catch (e) {
      /* storage refused: the session lasts as long as the page */
    }
    return null;
  }

  function onLogin(event) {
    event.preventDefault();
    var key = $("operator-key").value.trim();
    if (!key) {
      E.setMessage("login-error", t.admin_login_failed);
      $("operator-key").focus();
      return;
    }
    var submit = event.target.querySelector("button[type=submit]");
    submit.disabled = true;
    E.setMessage("login-error", "");
    load(key, null, null)
      .then(function (ok) {
        if (ok) {
          $("operator-key").value = "";
          state.key = key;
          storage(key);
          E.showScreen("stats");
        }
      })
      .then(function () {
        submit.disabled = false;
      });
  }

  function logout(message) {
    state.key = null;
    storage(null);
    clearGroups();
    E.showScreen("login");
    E.setMessage("login-error", message || "");
  }

  // -- the figures ---------------------------------------------------------------------

  /** Fetch the figures of [from, to] (null: the API's default) and draw them. Resolves to
   * true when drawn; shows why not otherwise (on the log-in form while not logged in). */
  function load(key, from, to) {
    var query = from && to ? "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to) : "";
    var where = state.key ? "stats-error" : "login-error";
    return E.api("GET", "/api/v1/admin/stats" + query, { token: key })
      .then(function (r) {
        if (r.ok && r.data && Array.isArray(r.data.days)) {
          E.setMessage(where, "");
          draw(r.data);
          return true;
        }
        if (r.status === 401 || r.status === 403) {
          if (state.key) logout(t.admin_login_failed);
          else E.setMessage("login-error", t.admin_login_failed);
        } else if (r.status === 400) {
          E.setMessage(where, t.admin_range_invalid);
        } else if (r.status === 429) {
          E.setMessage(where, E.fmt(t.rate_limited, { n: E.retryAfter(r) }));
        } else {
          E.setMessage(where, E.problemText(r));
        }
        return false;
      })
      .catch(function () {
        E.setMessage(where, t.offline);
        return false;
      });
  }

  function onRange(event) {
    event.preventDefault();
    var from = $("range-from").value;
    var to = $("range-to").value;
    if (!from || !to || from > to || span(from, to) > MAX_DAYS) {
      E.setMessage("stats-error", t.admin_range_invalid);
      return;
    }
    state.range = [from, to];
    load(state.key, from, to);
  }

  function span(from, to) {
    return Math.round((Date.parse(to + "T00:00:00Z") - Date.parse(from + "T00:00:00Z")) / 86400000) + 1;
  }

  function clearGroups() {
    Object.keys(state.charts).forEach(function (id) {
      state.charts[id].destroy();
    });
    state.charts = {};
    state.last = null;
    $("groups").textContent = "";
    $("ratings-tables").textContent = "";
    $("follow-up-list").textContent = "";
  }

  /** A series' label for people: a department's or scene's name where known. */
  function label(kind, key) {
    if (key === "other") return t.admin_other;
    var names = state.names[kind];
    return (names && names[key] && E.local(names[key])) || key;
  }

  function groupId(group) {
    return group.path.join(".");
  }

  function draw(stats) {
    clearGroups();
    state.last = stats;
    $("range-from").value = stats.from;
    $("range-to").value = stats.to;
    var root = $("groups");
    GROUPS.forEach(function (group) {
      var series = (stats[group.path[0]] || {})[group.path[1]] || {};
      var keys = Object.keys(series).sort();
      var id = groupId(group);
      var section = E.el("section", "panel group");
      section.setAttribute("data-group", id);
      var heading = E.el("h2", null, t["admin_group_" + group.path.join("_")] || id);
      heading.id = "group-" + group.path.join("-");
      section.setAttribute("aria-labelledby", heading.id);
      section.appendChild(heading);
      if (!keys.length) {
        section.appendChild(E.el("p", "muted small empty-group", t.admin_nothing));
        root.appendChild(section);
        return;
      }
      var chartBox = null;
      if (group.chart) {
        chartBox = E.el("div", "chart");
        chartBox.setAttribute("aria-hidden", "true");
        section.appendChild(chartBox);
        section.appendChild(E.el("p", "muted small", t.admin_chart_note));
      }
      section.appendChild(table(stats.days, keys, series, group, heading.textContent));
      root.appendChild(section);
      if (chartBox) state.charts[id] = chart(chartBox, stats.days, keys, series, group);
    });
    drawRatings(stats.ratings || {});
    drawFollowUp(stats.follow_up || {});
  }

  // -- ratings and follow-up -----------------------------------------------------------

  /** An actor's name: from the answer's names, else the trust list's, else its id. */
  function actorName(kind, id, names) {
    var name = names && names[kind + ":" + id];
    if (name && E.local(name)) return E.local(name);
    if (kind === "department") return label("department", id);
    return id;
  }

  /** Rows are the rated venues (or departments), columns 1 to 5 stars and the total. */
  function drawRatings(ratings) {
    var root = $("ratings-tables");
    [
      ["venue", "by_venue"],
      ["department", "by_department"],
    ].forEach(function (pair) {
      var kind = pair[0];
      var rows = ratings[pair[1]] || {};
      var actors = Object.keys(rows).sort();
      root.appendChild(E.el("h3", null, t["admin_ratings_" + kind]));
      if (!actors.length) {
        root.appendChild(E.el("p", "muted small", t.admin_no_ratings));
        return;
      }
      var wrap = scrollBox(t["admin_ratings_" + kind]);
      var tbl = E.el("table", "figures stars");
      tbl.setAttribute("data-group", "ratings." + pair[1]);
      var head = E.el("tr");
      head.appendChild(th(t.admin_rated, "col"));
      [1, 2, 3, 4, 5].forEach(function (n) {
        head.appendChild(th(E.fmt(t.admin_stars, { n: n }), "col"));
      });
      head.appendChild(th(t.admin_total, "col"));
      var thead = E.el("thead");
      thead.appendChild(head);
      tbl.appendChild(thead);
      var body = E.el("tbody");
      actors.forEach(function (actor) {
        var tr = E.el("tr");
        tr.appendChild(th(actorName(kind, actor, ratings.names), "row"));
        var total = 0;
        rows[actor].forEach(function (n, i) {
          total += n;
          var td = E.el("td", null, String(n));
          td.setAttribute("data-series", actor);
          td.setAttribute("data-stars", String(i + 1));
          tr.appendChild(td);
        });
        tr.appendChild(E.el("td", null, String(total)));
        body.appendChild(tr);
      });
      tbl.appendChild(body);
      wrap.appendChild(tbl);
      root.appendChild(wrap);
    });
  }

  function topicName(topic) {
    var scene = state.names.scene[topic];
    return scene ? E.local(scene) : topic;
  }

  function drawFollowUp(followUp) {
    var list = $("follow-up-list");
    var items = [];
    (followUp.low_ratings || []).forEach(function (r) {
      items.push({ kind: "rating", id: r.event_id, at: r.created_at, entry: r });
    });
    (followUp.reports || []).forEach(function (r) {
      items.push({ kind: "report", id: r.id, at: r.created_at, entry: r });
    });
    items.sort(function (a, b) {
      return b.at - a.at;
    });
    if (!items.length) {
      list.appendChild(E.el("li", "muted small follow-up-empty", t.admin_follow_up_empty));
      return;
    }
    items.forEach(function (item, n) {
      var r = item.entry;
      var li = E.el("li", "follow-up-item follow-up-" + item.kind);
      li.setAttribute("data-kind", item.kind);
      li.setAttribute("data-id", item.id);
      var title =
        item.kind === "rating" ? E.fmt(t.admin_low_rating, { n: r.stars }) : t.admin_report;
      var heading = E.el("h3", null, title);
      heading.id = "follow-up-" + n;
      li.appendChild(heading);
      var facts = E.el("dl", "follow-up-facts");
      [
        [t.admin_who, r.actor_name && E.local(r.actor_name) ? E.local(r.actor_name) : r.actor],
        [t.admin_what, topicName(r.topic)],
        [t.admin_when, E.formatDateTimeZone(r.created_at)],
      ].forEach(function (pair) {
        facts.appendChild(E.el("dt", null, pair[0]));
        facts.appendChild(E.el("dd", null, pair[1]));
      });
      li.appendChild(facts);
      var words = item.kind === "rating" ? r.comment : r.text;
      var quote = E.el("blockquote", "follow-up-text", words || t.admin_no_comment);
      if (!words) quote.classList.add("muted");
      li.appendChild(quote);
      var button = E.el("button", "button secondary", t.admin_resolved);
      button.type = "button";
      button.setAttribute("aria-describedby", heading.id);
      button.addEventListener("click", function () {
        resolve(item, button);
      });
      li.appendChild(button);
      list.appendChild(li);
    });
  }

  /** Mark one item handled, then read the figures again. */
  function resolve(item, button) {
    var path =
      item.kind === "report"
        ? "/api/v1/admin/reports/" + encodeURIComponent(item.id) + "/resolve"
        : "/api/v1/admin/ratings/" + encodeURIComponent(item.id) + "/follow-up";
    button.disabled = true;
    E.api("POST", path, { token: state.key })
      .then(function (r) {
        // 404/409: someone else handled it meanwhile; the list is read again either way.
        if (r.status === 401 || r.status === 403) {
          logout(t.admin_login_failed);
          return;
        }
        if (!r.ok && r.status !== 404 && r.status !== 409) {
          E.setMessage("follow-up-message", E.problemText(r));
          button.disabled = false;
          return;
        }
        E.setMessage("follow-up-message", t.admin_resolved_done);
        return load(state.key, state.range[0], state.range[1]);
      })
      .catch(function () {
        E.setMessage("follow-up-message", t.offline);
        button.disabled = false;
      });
  }

  /** Rows are days (oldest first) and a total; columns the series. */
  function table(days, keys, series, group, name) {
    var wrap = scrollBox(name);
    var tbl = E.el("table", "figures");
    tbl.setAttribute("data-group", groupId(group));
    var head = E.el("thead");
    var row = E.el("tr");
    row.appendChild(th(t.admin_day, "col"));
    keys.forEach(function (key) {
      var cell = th(label(group.names, key), "col");
      cell.setAttribute("data-series", key);
      row.appendChild(cell);
    });
    head.appendChild(row);
    tbl.appendChild(head);
    var body = E.el("tbody");
    var totals = keys.map(function () {
      return 0;
    });
    days.forEach(function (day) {
      var tr = E.el("tr");
      tr.appendChild(th(day, "row"));
      keys.forEach(function (key, i) {
        var n = series[key][day] || 0;
        totals[i] += n;
        var td = E.el("td", null, String(n));
        td.setAttribute("data-series", key);
        td.setAttribute("data-day", day);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    tbl.appendChild(body);
    var foot = E.el("tfoot");
    var total = E.el("tr");
    total.appendChild(th(t.admin_total, "row"));
    totals.forEach(function (n) {
      total.appendChild(E.el("td", null, String(n)));
    });
    foot.appendChild(total);
    tbl.appendChild(foot);
    wrap.appendChild(tbl);
    return wrap;
  }

  /** A box that scrolls a wide table sideways, reachable and named for the keyboard. */
  function scrollBox(name) {
    var wrap = E.el("div", "table-wrap");
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", name);
    return wrap;
  }

  function th(text, scope) {
    var cell = E.el("th", null, text);
    cell.setAttribute("scope", scope);
    return cell;
  }

  function chartWidth(box) {
    return Math.max(240, Math.floor(box.clientWidth || 320));
  }

  function chart(box, days, keys, series, group) {
    var data = [
      days.map(function (_, i) {
        return i;
      }),
    ];
    var lines = [{}];
    keys.forEach(function (key, i) {
      data.push(
        days.map(function (day) {
          return series[key][day] || 0;
        })
      );
      var colour = COLOURS[i % COLOURS.length];
      lines.push({
        label: label(group.names, key),
        stroke: colour,
        width: 2,
        points: { show: true, size: 6, fill: colour },
      });
    });
    var opts = {
      width: chartWidth(box),
      height: 200,
      scales: { x: { time: false }, y: { range: [0, null] } },
      axes: [
        {
          values: function (u, splits) {
            return splits.map(function (i) {
              return Number.isInteger(i) && days[i] ? days[i].slice(5) : "";
            });
          },
        },
        {
          values: function (u, splits) {
            return splits.map(function (v) {
              return Number.isInteger(v) ? String(v) : "";
            });
          },
        },
      ],
      legend: { show: true, live: false },
      cursor: { show: false },
      series: lines,
    };
    var plot = new window.uPlot(opts, data, box);
    plot.ecertKeys = keys.slice();
    return plot;
  }

  function resize() {
    Object.keys(state.charts).forEach(function (id) {
      var plot = state.charts[id];
      var box = plot.root.parentNode;
      plot.setSize({ width: chartWidth(box), height: 200 });
    });
  }

  /** For tests and the curious: the numbers each chart draws, {group: {series: {day: n}}}. */
  function chartData() {
    var out = {};
    var days = state.last ? state.last.days : [];
    Object.keys(state.charts).forEach(function (id) {
      var plot = state.charts[id];
      var group = {};
      plot.ecertKeys.forEach(function (key, i) {
        var row = {};
        plot.data[i + 1].forEach(function (n, j) {
          row[days[plot.data[0][j]]] = n;
        });
        group[key] = row;
      });
      out[id] = group;
    });
    return out;
  }

  // -- names ---------------------------------------------------------------------------

  function fetchNames() {
    E.fetchTrustList().then(function (trust) {
      if (!trust) return;
      Object.keys(trust.issuers).forEach(function (iss) {
        var slug = iss.split("/").pop();
        state.names.department[slug] = trust.issuers[iss];
      });
      if (state.last) draw(state.last);
    });
    E.api("GET", "/api/v1/scenes")
      .then(function (r) {
        if (!r.ok || !Array.isArray(r.data)) return;
        r.data.forEach(function (scene) {
          state.names.scene[scene.id] = scene.name;
        });
        if (state.last) draw(state.last);
      })
      .catch(function () {
        /* ids stand for names */
      });
  }

  // -- start ---------------------------------------------------------------------------

  function start() {
    $("login-form").addEventListener("submit", onLogin);
    $("range-form").addEventListener("submit", onRange);
    $("logout").addEventListener("click", function () {
      logout("");
    });
    var resizing = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(resize, 150);
    });
    window.EcertAdmin = { chartData: chartData };
    fetchNames();
    var key = storage();
    if (key) {
      state.key = key;
      E.showScreen("stats", false);
      load(key, null, null);
    } else {
      E.showScreen("login");
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
