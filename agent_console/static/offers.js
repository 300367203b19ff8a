// Offer search as the consultant types: asks /offers/search.json and shows the results; no build, no library.
// Every text comes from the server (the page's data- attributes and the JSON), nothing is set as HTML.
(function () {
  "use strict";
  var form = document.getElementById("offer-search");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var input = document.getElementById("q");
  var list = document.getElementById("offer-results");
  var status = document.getElementById("offer-status");
  var endpoint = form.getAttribute("data-endpoint");
  var timer = null;
  var latest = 0;

  function formParams() {
    var params = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field.name && field.value !== "") {
        params.append(field.name, field.value);
      }
    });
    return params;
  }

  function span(className, text) {
    var element = document.createElement("span");
    element.className = className;
    element.textContent = text;
    return element;
  }

  function show(results) {
    var items = results.map(function (hit) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = hit.url;
      link.className = "offer-title";
      link.textContent = hit.title;
      item.appendChild(link);
      item.appendChild(span("ref", hit.reference));
      item.appendChild(span("employer", hit.employer));
      var place = span("place", hit.place);
      if (hit.near) {
        place.appendChild(document.createTextNode(" · "));
        var near = document.createElement("strong");
        near.textContent = hit.near;
        place.appendChild(near);
      }
      item.appendChild(place);
      item.appendChild(span("hit-facts", hit.facts.concat([hit.published]).join(" · ")));
      if (hit.why) {
        item.appendChild(span("why", hit.why));
      }
      return item;
    });
    list.replaceChildren.apply(list, items);
  }

  function search() {
    var ask = ++latest;
    var params = formParams();
    var query = params.toString();
    params.append("typing", "1");
    status.textContent = form.getAttribute("data-searching");
    fetch(endpoint + "?" + params.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") !== 0) {
          throw new Error("not JSON");
        }
        return response.json();
      })
      .then(function (body) {
        if (ask !== latest) {
          return;
        }
        show(body.results || []);
        status.textContent = body.error || body.summary || "";
        window.history.replaceState(null, "", form.action + (query ? "?" + query : ""));
      })
      .catch(function () {
        if (ask === latest) {
          status.textContent = form.getAttribute("data-failed");
        }
      });
  }

  function soon() {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 150);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    window.clearTimeout(timer);
    search();
  });

  // Arrow keys move between the search field and the results; Enter opens the focused result.
  form.addEventListener("keydown", function (event) {
    if (event.target === input && event.key === "ArrowDown") {
      var first = list.querySelector("a");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  list.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") {
      return;
    }
    var links = Array.prototype.slice.call(list.querySelectorAll("a"));
    var at = links.indexOf(document.activeElement);
    if (at < 0) {
      return;
    }
    event.preventDefault();
    if (event.key === "ArrowDown" && at + 1 < links.length) {
      links[at + 1].focus();
    } else if (event.key === "ArrowUp") {
      (at === 0 ? input : links[at - 1]).focus();
    }
  });
})();
