/* Flow monitoring pages: the map of points, the flow-line map (Leaflet over a country outline layer,
   no tiles), flows over time, breakdown bars and the corridor balance (Chart.js).
   Data comes from json_script blocks named by data-source; labels from data-label-* attributes. */
(function () {
  "use strict";

  var IN_COLOUR = "#0b6bb8";
  var OUT_COLOUR = "#d95f02";
  var POS_COLOUR = "#1d7a46";
  var NEG_COLOUR = "#b42318";
  var lang = document.documentElement.lang || "en";
  var rtl = document.documentElement.getAttribute("dir") === "rtl";
  var numberFormat = new Intl.NumberFormat(lang);

  function fmt(n) { return n === null || n === undefined ? "–" : numberFormat.format(n); }

  function data(el) {
    var src = document.getElementById(el.getAttribute("data-source"));
    return src ? JSON.parse(src.textContent) : null;
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function newMap(el) {
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false, worldCopyJump: true });
    map.setView([10, 20], 2);
    return map;
  }

  /* Country outlines as the background: drawn under everything else, never in the way of clicks. */
  function countries(map, url) {
    if (!url) { return Promise.resolve(null); }
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (geo) {
      var layer = L.geoJSON(geo, {
        interactive: false,
        style: { color: "#a9b4bf", weight: 0.7, fillColor: "#e4e9ee", fillOpacity: 1 }
      }).addTo(map);
      layer.bringToBack();
      return layer;
    }).catch(function () { return null; });
  }

  function fmpMap(el) {
    var map = newMap(el);
    var points = data(el) || [];
    var max = points.reduce(function (m, p) { return Math.max(m, p.individuals || 0); }, 0);
    var group = L.featureGroup().addTo(map);
    points.forEach(function (p) {
      var radius = 5 + (max ? 13 * Math.sqrt((p.individuals || 0) / max) : 0);
      var marker = L.circleMarker([p.lat, p.lon], {
        radius: radius, color: "#17324d", weight: 1.2, fillColor: p.last ? IN_COLOUR : "#ffffff", fillOpacity: 0.75
      });
      marker.bindTooltip("<b>" + escapeHtml(p.name) + "</b> · " + escapeHtml(p.type) + "<br>" +
        (p.last ? escapeHtml(fmt(p.individuals) + " " + el.getAttribute("data-label-people")) + "<br>" +
          escapeHtml(el.getAttribute("data-label-last") + " " + p.last) : escapeHtml(el.getAttribute("data-label-none"))));
      marker.on("click", function () { window.location.href = p.url; });
      marker.options.fmpCode = p.code;
      group.addLayer(marker);
    });
    if (points.length) { map.fitBounds(group.getBounds(), { padding: [30, 30], maxZoom: 8 }); }
    countries(map, el.getAttribute("data-countries"));
    el.setAttribute("data-loaded", String(points.length));
    el.setAttribute("data-done", "1");
  }

  /* A gentle curve from a to b, bending to the right of the direction of travel. */
  function curve(a, b) {
    var mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2;
    var dx = b[0] - a[0], dy = b[1] - a[1];
    var cx = mx - dy * 0.18, cy = my + dx * 0.18;
    var out = [];
    for (var i = 0; i <= 20; i++) {
      var t = i / 20;
      out.push([(1 - t) * (1 - t) * a[0] + 2 * (1 - t) * t * cx + t * t * b[0],
        (1 - t) * (1 - t) * a[1] + 2 * (1 - t) * t * cy + t * t * b[1]]);
    }
    return out;
  }

  /* A small triangle at the end of a curve, pointing the way people went. */
  function arrowHead(points, weight) {
    var tip = points[points.length - 1], from = points[points.length - 3];
    var dy = tip[0] - from[0], dx = tip[1] - from[1];
    var len = Math.sqrt(dx * dx + dy * dy) || 1;
    var size = Math.min(0.35 * Math.sqrt(Math.pow(points[0][0] - tip[0], 2) + Math.pow(points[0][1] - tip[1], 2)), 0.6 + weight * 0.06);
    var ux = dx / len, uy = dy / len;
    var base = [tip[0] - uy * size, tip[1] - ux * size];
    var left = [base[0] + ux * size * 0.5, base[1] - uy * size * 0.5];
    var right = [base[0] - ux * size * 0.5, base[1] + uy * size * 0.5];
    return L.polygon([tip, left, right], { color: "#17324d", weight: 1, fillColor: "#17324d", fillOpacity: 0.85, interactive: false });
  }

  function odMap(el) {
    var map = newMap(el);
    var lines = data(el) || [];
    var max = lines.reduce(function (m, l) { return Math.max(m, l.individuals || 0); }, 0);
    var group = L.featureGroup().addTo(map);
    var ends = {};
    lines.forEach(function (l) {
      var weight = 1.5 + (max ? 10 * Math.sqrt(l.individuals / max) : 0);
      var line = L.polyline(curve(l.from, l.to), { color: IN_COLOUR, weight: weight, opacity: 0.7, lineCap: "round" });
      line.bindTooltip("<b>" + escapeHtml(l.label) + "</b><br>" + escapeHtml(fmt(l.individuals) + " " + el.getAttribute("data-label-people")), { sticky: true });
      line.on("mouseover", function () { line.setStyle({ color: OUT_COLOUR, opacity: 0.95 }); });
      line.on("mouseout", function () { line.setStyle({ color: IN_COLOUR, opacity: 0.7 }); });
      group.addLayer(line);
      group.addLayer(arrowHead(curve(l.from, l.to), weight));
      ends[l.from.join(",")] = l.from;
      ends[l.to.join(",")] = l.to;
    });
    Object.keys(ends).forEach(function (k) {
      group.addLayer(L.circleMarker(ends[k], { radius: 3.5, color: "#17324d", weight: 1, fillColor: "#ffffff", fillOpacity: 1, interactive: false }));
    });
    if (lines.length) { map.fitBounds(group.getBounds(), { padding: [30, 30], maxZoom: 7 }); }
    countries(map, el.getAttribute("data-countries"));
    el.setAttribute("data-loaded", String(lines.length));
    el.setAttribute("data-done", "1");
  }

  function baseOptions() {
    return {
      maintainAspectRatio: false,
      animation: false,
      locale: lang,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", rtl: rtl }, tooltip: { rtl: rtl } },
      scales: {
        x: { reverse: rtl, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
        y: { beginAtZero: true, position: rtl ? "right" : "left" }
      }
    };
  }

  function seriesChart(canvas) {
    var all = data(canvas);
    var chart = null;
    function draw(period) {
      var d = all[period];
      var labels = { "in": canvas.getAttribute("data-label-in"), out: canvas.getAttribute("data-label-out") };
      var colours = { "in": IN_COLOUR, out: OUT_COLOUR };
      var config = {
        type: "line",
        data: {
          labels: d.labels,
          datasets: d.series.map(function (s) {
            var c = colours[s.direction];
            return {
              label: labels[s.direction], data: s.values, borderColor: c, backgroundColor: c, spanGaps: false,
              tension: 0.1, borderWidth: 1.8, pointRadius: d.labels.length > 90 ? 0 : 2.5, pointHoverRadius: 4,
              pointBackgroundColor: d.published.map(function (p) { return p ? c : "#ffffff"; })
            };
          })
        },
        options: baseOptions()
      };
      if (chart) { chart.destroy(); }
      chart = new window.Chart(canvas, config);
      canvas.setAttribute("data-period", period);
      canvas.setAttribute("data-points", String(d.labels.length));
      canvas.setAttribute("data-done", "1");
    }
    draw(canvas.getAttribute("data-period") || "daily");
    document.querySelectorAll("[data-period]").forEach(function (button) {
      if (button === canvas) { return; }
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var period = button.getAttribute("data-period");
        draw(period);
        document.querySelectorAll("a[data-period]").forEach(function (b) {
          var on = b.getAttribute("data-period") === period;
          b.setAttribute("aria-pressed", on ? "true" : "false");
          b.classList.toggle("btn-on", on);
          b.classList.toggle("btn-light", !on);
        });
        var hidden = document.getElementById("f-period");
        if (hidden) { hidden.value = period; }
        var url = new URL(window.location.href);
        url.searchParams.set("period", period);
        window.history.replaceState(null, "", url.toString());
      });
    });
  }

  function barChart(canvas) {
    var all = data(canvas);
    var d = all && all[canvas.getAttribute("data-key")];
    if (!d || !d.labels.length) { return; }
    // About 30 px a bar: three values do not need the height of ten.
    canvas.parentNode.style.height = (56 + 30 * d.labels.length) + "px";
    var options = baseOptions();
    options.indexAxis = "y";
    options.plugins.legend = { display: false };
    options.scales = {
      x: { beginAtZero: true, reverse: rtl, ticks: { maxTicksLimit: 5 } },
      y: { position: rtl ? "right" : "left", ticks: { autoSkip: false, font: { size: 11 } } }
    };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: d.labels.map(function (l) { return l.length > 22 ? l.slice(0, 21) + "…" : l; }),
        datasets: [{ label: canvas.getAttribute("data-label"), data: d.values, backgroundColor: IN_COLOUR, borderRadius: 2, maxBarThickness: 18 }]
      },
      options: options
    });
    canvas.setAttribute("data-done", "1");
  }

  function balanceChart(canvas) {
    var d = data(canvas);
    var options = baseOptions();
    options.scales.y.beginAtZero = true;
    new window.Chart(canvas, {
      data: {
        labels: d.labels,
        datasets: [
          {
            type: "bar", label: canvas.getAttribute("data-label-balance"), data: d.balance, order: 2,
            backgroundColor: d.balance.map(function (v) { return v >= 0 ? POS_COLOUR : NEG_COLOUR; })
          },
          { type: "line", label: canvas.getAttribute("data-label-in"), data: d.inflow, borderColor: IN_COLOUR, backgroundColor: IN_COLOUR, borderWidth: 1.5, pointRadius: d.labels.length > 90 ? 0 : 2, order: 1 },
          { type: "line", label: canvas.getAttribute("data-label-out"), data: d.outflow, borderColor: OUT_COLOUR, backgroundColor: OUT_COLOUR, borderWidth: 1.5, pointRadius: d.labels.length > 90 ? 0 : 2, order: 1 }
        ]
      },
      options: options
    });
    canvas.setAttribute("data-points", String(d.labels.length));
    canvas.setAttribute("data-done", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.L) {
      var fmp = document.getElementById("fmp-map");
      if (fmp) { fmpMap(fmp); }
      var od = document.getElementById("od-map");
      if (od) { odMap(od); }
    }
    if (window.Chart) {
      var series = document.getElementById("series-chart");
      if (series) { seriesChart(series); }
      document.querySelectorAll("canvas.bar-chart").forEach(barChart);
      var balance = document.getElementById("balance-chart");
      if (balance) { balanceChart(balance); }
    }
  });
})();
