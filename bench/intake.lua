-- wrk script: Events API v2 triggers spread over 10,000 dedup keys.
-- The routing key comes from the WATCHBILL_KEY environment variable. With WATCHBILL_FLOOR set,
-- the events carry no routing key: each is parsed and answered 400 without touching the
-- database, which measures the HTTP path alone.
local key = os.getenv("WATCHBILL_KEY")
local floor = os.getenv("WATCHBILL_FLOOR") ~= nil
local expected = floor and 400 or 202
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  math.randomseed(os.time() + id * 7919)
end

function request()
  local dedup = "key-" .. math.random(0, 9999)
  local route = floor and '' or '"routing_key":"' .. key .. '",'
  local body = '{' .. route .. '"event_action":"trigger","dedup_key":"' .. dedup ..
    '","payload":{"summary":"Load test ' .. dedup .. '","source":"bench","severity":"warning"}}'
  return wrk.format("POST", "/v2/enqueue", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= expected then
    print("unexpected status " .. status .. ": " .. body)
  end
end
