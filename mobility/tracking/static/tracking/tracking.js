/* Tracking pages: choropleth and change maps (Leaflet, boundaries from the API, no tiles), trend charts (Chart.js). */
(function () {
  "use strict";

  var SEQUENTIAL = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
  var DECREASE = ["#d1e5f0", "#67a9cf", "#2166ac"];
  var INCREASE = ["#fddbc7", "#ef8a62", "#b2182b"];
  var NEW_COLOUR = "#7b3294";
  var NONE_COLOUR = "#e4e8ec";
  var SUPPRESSED_COLOUR = "#b8c0c8";
  var GONE_COLOUR = "#d8cbb3";
  var GROUP_COLOURS = ["#0b6bb8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"];

  var lang = document.documentElement.lang || "en";
  var rtl = document.documentElement.getAttribute("dir") === "rtl";
  var numberFormat = new Intl.NumberFormat(lang);

  function fmt(n) { return n === null || n === undefined ? "" : numberFormat.format(n); }
  function signed(n) { return (n > 0 ? "+" : "") + fmt(n); }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    });
  }

  function boundariesUrl(el, params) {
    var q = ["location_code=" + encodeURIComponent(el.getAttribute("data-location-code"))];
    Object.keys(params).forEach(function (k) { q.push(k + "=" + encodeURIComponent(params[k])); });
    return el.getAttribute("data-boundaries") + "?" + q.join("&");
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function classOf(value, breaks) {
    for (var i = 0; i < breaks.length; i++) { if (value <= breaks[i]) { return i; } }
    return breaks.length - 1;
  }

  function paletteFor(breaks) {
    // Spread the classes over the whole ramp when there are fewer than five.
    var n = breaks.length;
    return breaks.map(function (_, i) { return SEQUENTIAL[n === 1 ? SEQUENTIAL.length - 1 : Math.round(i * (SEQUENTIAL.length - 1) / (n - 1))]; });
  }

  function legendItem(colour, text) {
    // Built with the DOM (no inline style attributes in markup).
    var item = document.createElement("span");
    item.className = "legend-item";
    var swatch = document.createElement("span");
    swatch.className = "legend-swatch";
    swatch.style.background = colour;
    item.appendChild(swatch);
    // Number ranges read left to right in every language ("0–5,605", not "5,605–0" in Arabic).
    var label = document.createElement("bdi");
    // Intl puts a direction mark (LRM or ALM) before a minus sign in Arabic: drop it, the bdi isolates.
    var bare = String(text).replace(/[\u061C\u200E\u200F]/g, "");
    if (/^[\d\u0660-\u066C\s.,≤≥+\-–\u2212]+$/.test(bare)) { label.setAttribute("dir", "ltr"); text = bare; }
    label.textContent = text;
    item.appendChild(label);
    return item;
  }

  function setLegend(items) {
    var legend = document.getElementById("tracking-map-legend");
    if (!legend) { return; }
    legend.textContent = "";
    items.forEach(function (item) { legend.appendChild(item); });
  }

  function note(el, key) {
    var n = document.getElementById("tracking-map-note");
    if (n) { n.textContent = el.getAttribute(key); }
  }

  function newMap(el) {
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false });
    map.setView([0, 0], 2);
    return map;
  }

  function drawAreas(el, map, geojson, styleOf, tooltipOf) {
    var areaUrl = el.getAttribute("data-area-url");
    var coloured = 0;
    var withData = L.featureGroup();
    var layer = L.geoJSON(geojson, {
      style: function (f) {
        var s = styleOf(f.properties.pcode);
        if (s.fillColor !== NONE_COLOUR) { coloured += 1; }
        return { color: "#5b6877", weight: 0.8, fillOpacity: 0.85, fillColor: s.fillColor };
      },
      onEachFeature: function (feature, lyr) {
        var p = feature.properties || {};
        if (styleOf(p.pcode).fillColor !== NONE_COLOUR) { withData.addLayer(L.geoJSON(feature)); }
        lyr.bindTooltip(tooltipOf(p), { sticky: true, direction: "top" });
        lyr.on("mouseover", function () { lyr.setStyle({ weight: 2.5, color: "#17324d" }); });
        lyr.on("mouseout", function () { lyr.setStyle({ weight: 0.8, color: "#5b6877" }); });
        if (areaUrl) {
          lyr.on("click", function () {
            window.location.href = areaUrl.replace("__PCODE__", encodeURIComponent(p.pcode));
          });
        }
      }
    }).addTo(map);
    // Open on the areas with figures; the rest of the country stays around them for context.
    var focus = withData.getLayers().length ? withData : layer;
    if (focus.getLayers().length) { map.fitBounds(focus.getBounds(), { padding: [12, 12] }); }
    el.setAttribute("data-loaded", String(layer.getLayers().length));
    el.setAttribute("data-coloured", String(coloured));
    el.setAttribute("data-done", "1");
    if (!layer.getLayers().length) { note(el, "data-empty"); }
  }

  function choropleth(el) {
    var map = newMap(el);
    var level = el.getAttribute("data-level");
    Promise.all([
      fetchJson(el.getAttribute("data-url")),
      fetchJson(boundariesUrl(el, { admin_level: level, zoom: 6 }))
    ]).then(function (res) {
      var data = res[0], shapes = res[1];
      var byPcode = {};
      data.areas.forEach(function (a) { byPcode[a.pcode] = a; });
      var breaks = data.breaks || [];
      var colours = paletteFor(breaks);
      drawAreas(el, map, shapes, function (pcode) {
        var a = byPcode[pcode];
        if (!a) { return { fillColor: NONE_COLOUR }; }
        if (a.suppressed || a.population === null) { return { fillColor: SUPPRESSED_COLOUR }; }
        return { fillColor: breaks.length ? colours[classOf(a.population, breaks)] : SEQUENTIAL[0] };
      }, function (p) {
        var a = byPcode[p.pcode];
        var value = !a ? el.getAttribute("data-label-none")
          : (a.suppressed || a.population === null) ? el.getAttribute("data-label-suppressed") : fmt(a.population);
        return "<b>" + escapeHtml(p.name) + "</b><br>" + escapeHtml(value);
      });
      var items = breaks.map(function (b, i) {
        return legendItem(colours[i], (i === 0 ? fmt(0) : fmt(breaks[i - 1] + 1)) + "–" + fmt(b));
      });
      items.push(legendItem(SUPPRESSED_COLOUR, el.getAttribute("data-label-suppressed")));
      items.push(legendItem(NONE_COLOUR, el.getAttribute("data-label-none")));
      setLegend(items);
    }).catch(function () {
      el.setAttribute("data-done", "error");
      note(el, "data-error");
    });
  }

  function diverging(el) {
    var map = newMap(el);
    var level = el.getAttribute("data-level");
    Promise.all([
      fetchJson(el.getAttribute("data-url")),
      fetchJson(boundariesUrl(el, { admin_level: level, zoom: 6 }))
    ]).then(function (res) {
      var data = res[0], shapes = res[1];
      var byPcode = {};
      var maxAbs = 0;
      data.areas.forEach(function (a) {
        byPcode[a.pcode] = a;
        if (a.change !== null) { maxAbs = Math.max(maxAbs, Math.abs(a.change)); }
      });
      var step = maxAbs / 3 || 1;
      function colourOf(a) {
        if (!a) { return NONE_COLOUR; }
        if (a.status === "new") { return NEW_COLOUR; }
        if (a.status === "gone") { return GONE_COLOUR; }
        if (a.change === null) { return SUPPRESSED_COLOUR; }
        if (a.change === 0) { return "#f7f7f7"; }
        var i = Math.min(2, Math.floor((Math.abs(a.change) - 1) / step));
        return a.change > 0 ? INCREASE[i] : DECREASE[i];
      }
      drawAreas(el, map, shapes, function (pcode) { return { fillColor: colourOf(byPcode[pcode]) }; }, function (p) {
        var a = byPcode[p.pcode];
        var text;
        if (!a) { text = el.getAttribute("data-label-none"); }
        else if (a.status === "new") { text = el.getAttribute("data-label-new") + ": " + fmt(a.population_b); }
        else if (a.status === "gone") { text = el.getAttribute("data-label-gone"); }
        else if (a.change === null) { text = el.getAttribute("data-label-suppressed"); }
        else {
          text = fmt(a.population_a) + " → " + fmt(a.population_b) + " (" + signed(a.change) +
            (a.change_pct !== null ? ", " + (a.change_pct > 0 ? "+" : "") + a.change_pct + " %" : "") + ")";
        }
        return "<b>" + escapeHtml(p.name) + "</b><br>" + escapeHtml(text);
      });
      var t = Math.round(step);
      setLegend([
        legendItem(DECREASE[2], "≤ " + signed(-2 * t)), legendItem(DECREASE[0], el.getAttribute("data-label-decrease")),
        legendItem(INCREASE[0], el.getAttribute("data-label-increase")), legendItem(INCREASE[2], "≥ " + signed(2 * t)),
        legendItem(NEW_COLOUR, el.getAttribute("data-label-new")), legendItem(GONE_COLOUR, el.getAttribute("data-label-gone")),
        legendItem(SUPPRESSED_COLOUR, el.getAttribute("data-label-suppressed")),
        legendItem(NONE_COLOUR, el.getAttribute("data-label-none"))
      ]);
    }).catch(function () {
      el.setAttribute("data-done", "error");
      note(el, "data-error");
    });
  }

  function areaMap(el) {
    var map = newMap(el);
    var pcode = el.getAttribute("data-pcode");
    var level = parseInt(el.getAttribute("data-level"), 10);
    var bbox = (el.getAttribute("data-bbox") || "").split(",").map(Number);
    if (bbox.length === 4 && !bbox.some(isNaN)) { map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]]); }
    var zoom = Math.max(5, Math.round(map.getZoom()));
    var sitesEl = document.getElementById(el.getAttribute("data-sites"));
    var sites = sitesEl ? JSON.parse(sitesEl.textContent) : [];
    var childrenEl = document.getElementById(el.getAttribute("data-children"));
    var children = childrenEl ? JSON.parse(childrenEl.textContent) : { areas: {}, breaks: [] };
    var colours = paletteFor(children.breaks);
    function childStyle(f) {
      var has = Object.prototype.hasOwnProperty.call(children.areas, f.properties.pcode);
      var v = has ? children.areas[f.properties.pcode] : undefined;
      var fill = !has ? NONE_COLOUR : v === null ? SUPPRESSED_COLOUR
        : children.breaks.length ? colours[classOf(v, children.breaks)] : SEQUENTIAL[0];
      return { color: "#5b6877", weight: 0.8, fillColor: fill, fillOpacity: 0.8 };
    }
    function childTip(p) {
      var has = Object.prototype.hasOwnProperty.call(children.areas, p.pcode);
      var v = has ? children.areas[p.pcode] : undefined;
      var text = !has ? el.getAttribute("data-label-none") : v === null ? el.getAttribute("data-label-suppressed") : fmt(v);
      return "<b>" + escapeHtml(p.name) + "</b><br>" + escapeHtml(text);
    }
    var pending = [fetchJson(boundariesUrl(el, level === 0 ? { admin_level: 1, zoom: zoom } : { parent_code: pcode, zoom: zoom }))];
    if (level > 0) { pending.push(fetchJson(boundariesUrl(el, { admin_level: level, zoom: zoom }))); }
    Promise.all(pending).then(function (res) {
      var group = L.featureGroup().addTo(map);
      var areaUrl = el.getAttribute("data-area-url");
      L.geoJSON(res[0], {
        style: childStyle,
        onEachFeature: function (f, lyr) {
          lyr.bindTooltip(childTip(f.properties), { sticky: true });
          if (areaUrl) {
            lyr.on("click", function () { window.location.href = areaUrl.replace("__PCODE__", encodeURIComponent(f.properties.pcode)); });
          }
        }
      }).addTo(group);
      if (res[1]) {
        L.geoJSON({ type: "FeatureCollection", features: res[1].features.filter(function (f) { return f.properties.pcode === pcode; }) }, {
          style: { color: "#17324d", weight: 2.5, fill: false }
        }).addTo(group);
      }
      sites.forEach(function (s) {
        var label = "<b>" + escapeHtml(s.name) + "</b><br>" +
          escapeHtml(s.suppressed ? el.getAttribute("data-label-suppressed") : fmt(s.individuals));
        L.circleMarker([s.lat, s.lon], { radius: 6, color: "#7a1f00", weight: 1, fillColor: "#f03b20", fillOpacity: 0.9 })
          .bindTooltip(label).addTo(group);
      });
      if (group.getLayers().length) { map.fitBounds(group.getBounds(), { padding: [8, 8] }); }
      if (children.breaks.length) {
        var items = children.breaks.map(function (b, i) {
          return legendItem(colours[i], (i === 0 ? fmt(0) : fmt(children.breaks[i - 1] + 1)) + "–" + fmt(b));
        });
        items.push(legendItem(SUPPRESSED_COLOUR, el.getAttribute("data-label-suppressed")));
        items.push(legendItem(NONE_COLOUR, el.getAttribute("data-label-none")));
        setLegend(items);
      }
      el.setAttribute("data-loaded", String(group.getLayers().length));
      el.setAttribute("data-done", "1");
      if (!group.getLayers().length) { note(el, "data-empty"); }
    }).catch(function () {
      el.setAttribute("data-done", "error");
      note(el, "data-error");
    });
  }

  function trendChart(canvas, data) {
    var draftLabel = canvas.getAttribute("data-label-draft");
    var labels = data.labels.map(function (l, i) {
      return canvas.getAttribute("data-label-round") + " " + l + (data.draft[i] ? " (" + draftLabel + ")" : "");
    });
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: data.series.map(function (s, i) {
          var colour = GROUP_COLOURS[i % GROUP_COLOURS.length];
          return {
            label: s.label, data: s.values, borderColor: colour, backgroundColor: colour, spanGaps: true, tension: 0.15,
            pointRadius: 4,
            pointBackgroundColor: data.draft.map(function (d) { return d ? "#ffffff" : colour; })
          };
        })
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        locale: lang,
        plugins: { legend: { position: "bottom", rtl: rtl }, tooltip: { rtl: rtl } },
        scales: { x: { reverse: rtl, offset: true }, y: { beginAtZero: true, position: rtl ? "right" : "left" } }
      }
    });
    canvas.setAttribute("data-done", "1");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var jump = document.querySelector(".js-operation-jump");
    if (jump) {
      jump.addEventListener("change", function () {
        window.location.href = jump.getAttribute("data-url-template").replace("__OP__", encodeURIComponent(jump.value));
      });
    }
    var el = document.getElementById("tracking-map");
    if (el && window.L) {
      var mode = el.getAttribute("data-mode");
      if (mode === "choropleth") { choropleth(el); }
      else if (mode === "diverging") { diverging(el); }
      else if (mode === "area") { areaMap(el); }
    }
    var canvas = document.getElementById("trend-chart");
    if (canvas && window.Chart) {
      if (canvas.getAttribute("data-url")) {
        fetchJson(canvas.getAttribute("data-url")).then(function (data) { trendChart(canvas, data); });
      } else if (canvas.getAttribute("data-source")) {
        var src = document.getElementById(canvas.getAttribute("data-source"));
        if (src) { trendChart(canvas, JSON.parse(src.textContent)); }
      }
    }
  });
})();
