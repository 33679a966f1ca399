/* Points of entry and travel restriction pages: the status map and its date slider, counts by status
   over time (Chart.js), one point's map, and the travel restriction map (Leaflet over country
   outlines, no tiles). Data comes from json_script blocks named by data-source. */
(function () {
  "use strict";

  var STATUS_COLOURS = { open: "#1d7a46", partial: "#d08700", closed: "#b42318", unknown: "#8a94a0", none: "#ffffff" };
  var KIND_COLOURS = { total: "#b42318", visa: "#7b3294", partial: "#e66101", medical: "#f1c232" };
  var TARGET_COLOUR = "#0b6bb8";
  var NONE_FILL = "#e4e9ee";
  var lang = document.documentElement.lang || "en";
  var rtl = document.documentElement.getAttribute("dir") === "rtl";

  function data(el) {
    var src = document.getElementById(el.getAttribute("data-source"));
    return src ? JSON.parse(src.textContent) : null;
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    });
  }

  function newMap(el) {
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false, worldCopyJump: true });
    map.setView([10, 20], 2);
    return map;
  }

  function countries(map, url, options) {
    if (!url) { return Promise.resolve(null); }
    return getJSON(url).then(function (geo) {
      var layer = L.geoJSON(geo, options || {
        interactive: false,
        style: { color: "#a9b4bf", weight: 0.7, fillColor: NONE_FILL, fillOpacity: 1 }
      }).addTo(map);
      layer.bringToBack();
      return layer;
    });
  }

  /* ISO date arithmetic in UTC, so no time zone moves a day. */
  function addDays(iso, n) {
    var d = new Date(iso + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  // --- points of entry ------------------------------------------------------------------------

  var markers = {};

  function statusTip(el, p) {
    var text = "<b>" + escapeHtml(p.name) + "</b> · " + escapeHtml(p.type) + "<br>" + escapeHtml(p.label);
    if (p.since) { text += " " + escapeHtml(el.getAttribute("data-label-since") + " " + p.since); }
    if (p.published === false) { text += " (" + escapeHtml(el.getAttribute("data-label-draft")) + ")"; }
    return text;
  }

  function styleFor(status) {
    return { radius: 7, weight: 1.5, color: "#17324d", fillColor: STATUS_COLOURS[status] || STATUS_COLOURS.none, fillOpacity: 0.95 };
  }

  function poeMap(el) {
    var map = newMap(el);
    var points = data(el) || [];
    var group = L.featureGroup().addTo(map);
    points.forEach(function (p) {
      var marker = L.circleMarker([p.lat, p.lon], styleFor(p.status));
      marker.bindTooltip(statusTip(el, p));
      marker.on("click", function () {
        var date = document.getElementById("f-date");
        window.location.href = p.url.split("?")[0] + (date ? "?date=" + encodeURIComponent(date.value) : "");
      });
      marker.addTo(group);
      var path = marker.getElement();
      if (path) {
        path.setAttribute("data-code", p.code);
        path.setAttribute("data-status", p.status);
        path.classList.add("poe-marker");
      }
      markers[p.code] = { marker: marker, point: p };
    });
    if (points.length) { map.fitBounds(group.getBounds(), { padding: [30, 30], maxZoom: 8 }); }
    countries(map, el.getAttribute("data-countries")).catch(function () { return null; });
    el.setAttribute("data-loaded", String(points.length));
    el.setAttribute("data-done", "1");
    return el;
  }

  function recolour(el, statuses) {
    statuses.forEach(function (s) {
      var m = markers[s.code];
      if (!m) { return; }
      var p = m.point;
      p.status = s.status; p.label = s.label; p.since = s.since; p.published = s.published;
      m.marker.setStyle(styleFor(s.status));
      m.marker.setTooltipContent(statusTip(el, p));
      var path = m.marker.getElement();
      if (path) { path.setAttribute("data-status", s.status); }
    });
  }

  function statusBadge(s, draftLabel) {
    var frag = document.createDocumentFragment();
    var badge = document.createElement("span");
    badge.className = "status st-" + s.status;
    badge.textContent = s.label;
    frag.appendChild(badge);
    if (s.published === false) {
      frag.appendChild(document.createTextNode(" "));
      var draft = document.createElement("span");
      draft.className = "badge badge-draft";
      draft.textContent = draftLabel;
      frag.appendChild(draft);
    }
    return frag;
  }

  function updateTable(statuses, draftLabel, date) {
    statuses.forEach(function (s) {
      var row = document.querySelector('#poe-table tr[data-code="' + CSS.escape(s.code) + '"]');
      if (!row) { return; }
      var cell = row.querySelector(".js-status");
      cell.textContent = "";
      cell.appendChild(statusBadge(s, draftLabel));
      row.querySelector(".js-since").textContent = s.since || "";
      row.querySelector(".js-restriction").textContent = s.restriction || "";
      var link = row.querySelector("a");
      if (link) { link.href = link.href.split("?")[0] + "?date=" + date; }
    });
  }

  function updateCounts(counts) {
    Object.keys(counts).forEach(function (key) {
      var b = document.getElementById("count-" + key);
      if (b) { b.textContent = String(counts[key]); }
    });
  }

  var timeline = null;

  function setTimelineDate(date) {
    if (!timeline) { return; }
    timeline.$chosen = date;
    timeline.draw();
  }

  var chosenLine = {
    id: "chosenDate",
    afterDatasetsDraw: function (chart) {
      var labels = chart.data.labels;
      if (!chart.$chosen || !labels.length) { return; }
      var index = 0;
      for (var i = 0; i < labels.length; i++) { if (labels[i] <= chart.$chosen) { index = i; } }
      var x = chart.scales.x.getPixelForValue(index);
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "#17324d";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, chart.chartArea.top);
      ctx.lineTo(x, chart.chartArea.bottom);
      ctx.stroke();
      ctx.restore();
    }
  };

  function timelineChart(canvas, date) {
    var d = data(canvas);
    timeline = new window.Chart(canvas, {
      type: "line",
      data: {
        labels: d.labels,
        datasets: d.series.map(function (s, i) {
          var c = STATUS_COLOURS[s.status];
          // Stacked areas: each fills down to the one below it.
          return { label: s.label, data: s.values, borderColor: c, backgroundColor: c + "66", fill: i === 0 ? "origin" : "-1", stepped: true, pointRadius: 0, borderWidth: 1.5 };
        })
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        locale: lang,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", rtl: rtl }, tooltip: { rtl: rtl } },
        scales: {
          x: { reverse: rtl, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 16 } },
          y: { stacked: true, beginAtZero: true, position: rtl ? "right" : "left", ticks: { precision: 0 } }
        }
      },
      plugins: [chosenLine]
    });
    setTimelineDate(date);
    canvas.setAttribute("data-done", "1");
  }

  function slider(input, mapEl) {
    var first = input.getAttribute("data-first");
    var url = input.getAttribute("data-url");
    var output = document.getElementById("poe-date");
    var dateInput = document.getElementById("f-date");
    var draftLabel = mapEl ? mapEl.getAttribute("data-label-draft") : "";
    var timer = null;
    var asked = 0;
    function load(date) {
      var ticket = ++asked;
      input.setAttribute("aria-busy", "true");
      getJSON(url + "?date=" + encodeURIComponent(date)).then(function (answer) {
        if (ticket !== asked) { return; }  // a newer move is on its way
        if (mapEl) { recolour(mapEl, answer.points); }
        updateCounts(answer.counts);
        updateTable(answer.points, draftLabel, answer.date);
        input.setAttribute("data-loaded-date", answer.date);
        input.removeAttribute("aria-busy");
      }).catch(function () {
        input.removeAttribute("aria-busy");
        if (output) { output.textContent = input.getAttribute("data-error"); }
      });
    }
    input.addEventListener("input", function () {
      var date = addDays(first, parseInt(input.value, 10));
      if (output) { output.textContent = date; }
      if (dateInput) { dateInput.value = date; }
      var here = new URL(window.location.href);
      here.searchParams.set("date", date);
      here.searchParams.delete("page");
      window.history.replaceState(null, "", here.toString());
      setTimelineDate(date);
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { load(date); }, 120);
    });
  }

  function pointMap(el) {
    var p = data(el);
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false });
    map.setView([p.lat, p.lon], 6);
    L.circleMarker([p.lat, p.lon], styleFor(p.status)).addTo(map);
    countries(map, el.getAttribute("data-countries")).catch(function () { return null; });
    el.setAttribute("data-done", "1");
  }

  // --- travel restrictions --------------------------------------------------------------------

  function travelMap(el) {
    var map = newMap(el);
    var d = data(el);
    var coloured = 0;
    countries(map, el.getAttribute("data-countries"), {
      style: function (f) {
        var iso3 = f.properties.iso3;
        var kind = d.imposers[iso3];
        var fill = iso3 === d.target ? TARGET_COLOUR : kind ? KIND_COLOURS[kind] : NONE_FILL;
        if (kind) { coloured += 1; }
        return { color: "#8795a3", weight: iso3 === d.target ? 2 : 0.7, fillColor: fill, fillOpacity: 0.9 };
      },
      onEachFeature: function (f, layer) {
        var iso3 = f.properties.iso3;
        var kind = d.imposers[iso3];
        var text = iso3 === d.target ? el.getAttribute("data-label-target") : kind ? d.kinds[kind] : el.getAttribute("data-label-none");
        layer.bindTooltip("<b>" + escapeHtml(f.properties.name) + "</b><br>" + escapeHtml(text), { sticky: true });
        if (iso3 === d.target || kind) {
          var path = function () { return layer.getElement && layer.getElement(); };
          layer.on("add", function () {
            var p = path();
            if (p) { p.setAttribute("data-iso3", iso3); p.setAttribute("data-kind", kind || "target"); }
          });
        }
      }
    }).then(function (layer) {
      el.setAttribute("data-coloured", String(coloured));
      el.setAttribute("data-done", "1");
      return layer;
    }).catch(function () { el.setAttribute("data-done", "error"); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var mapEl = null;
    if (window.L) {
      var poe = document.getElementById("poe-map");
      if (poe) { mapEl = poeMap(poe); }
      var one = document.getElementById("poe-point-map");
      if (one) { pointMap(one); }
      var travel = document.getElementById("travel-map");
      if (travel) { travelMap(travel); }
    }
    var dateInput = document.getElementById("f-date");
    var canvas = document.getElementById("poe-timeline-chart");
    if (canvas && window.Chart) { timelineChart(canvas, dateInput ? dateInput.value : null); }
    var range = document.getElementById("poe-slider");
    if (range) { slider(range, mapEl); }
  });
})();
