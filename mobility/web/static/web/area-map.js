/* The area map: boundaries from the API drawn on a plain background (no tiles, works offline). */
(function () {
  "use strict";

  function parseBbox(text) {
    var parts = (text || "").split(",").map(Number);
    if (parts.length !== 4 || parts.some(isNaN)) { return null; }
    return L.latLngBounds([parts[1], parts[0]], [parts[3], parts[2]]);
  }

  function withZoom(url, zoom) {
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "zoom=" + Math.max(0, Math.round(zoom));
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      });
  }

  function init(el) {
    var note = document.getElementById("area-map-note");
    var areaUrl = el.getAttribute("data-area-url");
    var highlight = el.getAttribute("data-highlight");
    var bbox = parseBbox(el.getAttribute("data-bbox"));
    var layers = (el.getAttribute("data-layers") || "").split("|").filter(Boolean);
    var contextUrl = el.getAttribute("data-context");
    var map = L.map(el, { zoomSnap: 0.25, attributionControl: false, worldCopyJump: false });
    map.setView([0, 0], 2);
    if (bbox) { map.fitBounds(bbox, { padding: [8, 8] }); }
    var zoom = bbox ? map.getZoom() : 5;

    function open(feature) {
      if (feature.properties && feature.properties.pcode && feature.properties.pcode !== highlight) {
        window.location.href = areaUrl.replace("__PCODE__", encodeURIComponent(feature.properties.pcode));
      }
    }

    function bind(feature, layer) {
      var p = feature.properties || {};
      layer.bindTooltip((p.name || "") + " · " + (p.pcode || ""), { sticky: true, direction: "top" });
      layer.on("click", function () { open(feature); });
    }

    var pending = [];
    var own = [];
    var childCount = 0;
    var drawn = L.featureGroup().addTo(map);
    if (contextUrl) {
      pending.push(fetchJson(withZoom(contextUrl, zoom)).then(function (data) {
        L.geoJSON(data, {
          style: function (f) {
            return f.properties && f.properties.pcode === highlight
              ? { color: "#17324d", weight: 2.5, fillColor: "#ffd166", fillOpacity: 0.4 }
              : { color: "#9aa6b2", weight: 1, fillColor: "#dfe6ee", fillOpacity: 0.6 };
          },
          onEachFeature: function (feature, layer) {
            bind(feature, layer);
            if (feature.properties && feature.properties.pcode === highlight) { own.push(layer); }
          }
        }).addTo(drawn).bringToBack();
        return data.features.length;
      }));
    }
    layers.forEach(function (url) {
      pending.push(fetchJson(withZoom(url, zoom)).then(function (data) {
        childCount += data.features.length;
        L.geoJSON(data, {
          style: { color: "#0b6bb8", weight: 1.2, fillColor: "#4fb3e8", fillOpacity: 0.28 },
          onEachFeature: function (feature, layer) {
            bind(feature, layer);
            layer.on("mouseover", function () { layer.setStyle({ fillOpacity: 0.55 }); });
            layer.on("mouseout", function () { layer.setStyle({ fillOpacity: 0.28 }); });
          }
        }).addTo(drawn);
        return data.features.length;
      }));
    });
    Promise.all(pending).then(function (counts) {
      var total = counts.reduce(function (a, b) { return a + b; }, 0);
      el.setAttribute("data-done", "1");
      // With sub-areas drawn, the area itself is an outline on top of them, not a second fill.
      own.forEach(function (layer) {
        if (childCount) { layer.setStyle({ fillOpacity: 0, weight: 3 }); }
        layer.bringToFront();
      });
      if (!total) {
        if (note) { note.textContent = el.getAttribute("data-empty"); }
        return;
      }
      if (!bbox && drawn.getLayers().length) { map.fitBounds(drawn.getBounds(), { padding: [8, 8] }); }
      el.setAttribute("data-loaded", String(total));
    }).catch(function () {
      el.setAttribute("data-done", "error");
      if (note) { note.textContent = el.getAttribute("data-error"); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("area-map");
    if (el && window.L) { init(el); }
  });
})();
