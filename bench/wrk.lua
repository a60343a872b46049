-- wrk script for bench/intake.py. Arguments after "--": MODE [RUN_PREFIX]
--   get      plain GET of the URL
--   echo     POST a webchat-shaped JSON body (bare baseline)
--   webchat  same body plus a conversation cookie (one of 300), unique client_message_id
-- done() prints one JSON line starting with "WRK_RESULT " for the caller to parse.

local mode, prefix, counter, tid = "get", "x", 0, 0
local threads = 0
local texts = {
  "我家楼下的路灯已经坏了两个多星期，晚上出门特别黑，老人孩子走路很危险，前天还有人摔倒了，请尽快派人来修理。",
  "小区门口的垃圾桶好几天没人清运了，气味非常难闻，还招来很多苍蝇和老鼠，居民意见很大，希望环卫部门尽快处理一下。",
  "最近每天晚上十一点以后附近的工地还在施工，电钻和卡车的噪音很大，严重影响周边居民休息，请相关部门去现场检查并制止。",
  "幸福路和人民路交叉口的红绿灯已经三天不工作了，早晚高峰车辆和行人都很混乱，差点发生事故，请交通部门尽快修复。",
}

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  mode = args[1] or "get"
  prefix = args[2] or tostring(math.random(1, 1e9))
  tid = tonumber(wrk.thread:get("tid")) or 0
  if mode ~= "get" then
    wrk.method = "POST"
  end
end

function request()
  if mode == "get" then
    return wrk.format()
  end
  counter = counter + 1
  local body = string.format(
    '{"client_message_id":"%s-%d-%d","text":"%s","language":"zh"}',
    prefix, tid, counter, texts[counter % #texts + 1])
  local headers = { ["Content-Type"] = "application/json" }
  if mode == "webchat" then
    headers["Cookie"] = string.format("civicline_chat=bench%027d", counter % 300)
  end
  return wrk.format(nil, nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"non_2xx":%d,"lat_p50_us":%d,"lat_p99_us":%d,' ..
    '"lat_max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
