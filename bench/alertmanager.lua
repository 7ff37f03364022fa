-- wrk script: single alerts to Alertmanager's API v2, spread over 10,000 label sets.
function request()
  local n = math.random(0, 9999)
  local body = '[{"labels":{"alertname":"LoadTest","instance":"host-' .. n ..
    '"},"annotations":{"summary":"Load test ' .. n .. '"}}]'
  return wrk.format("POST", "/api/v2/alerts", {["Content-Type"] = "application/json"}, body)
end
