-- :CodexRuns and :CodexTrace — the workspace's recorded runs (`.codexos/runs/*.jsonl`, written
-- by the server with secrets already redacted) in a buffer, and one run's trace as VS Code's
-- trace page shows it: the run's header, then a line per node with its status, time, model and
-- the start of its output. On a node line `r` replays the run from that node, `f` forks it
-- (asks for edits first, `codexos.agent.replay`), <CR> shows the node's whole output.
local M = {}

--- How many of the newest runs :CodexRuns reads.
local LISTED = 200
--- How much of a node's output its line shows.
local PREVIEW_CHARS = 60

local function runs_dir()
  local client = vim.lsp.get_clients({ name = "codexos" })[1]
  local root = client and client.root_dir
    or vim.fs.root(vim.fn.getcwd(), require("codexos").config.root_markers)
    or vim.fn.getcwd()
  return root .. "/.codexos/runs"
end

local function trace_path(id)
  return ("%s/%s.jsonl"):format(runs_dir(), id)
end

--- Run ids, newest first (an id starts with its UTC start time; runs started in the same second
--- are told apart by when their file was made, as the server's `last` does).
local function run_ids()
  local dir = runs_dir()
  local ids = {}
  if vim.uv.fs_stat(dir) then
    for name, kind in vim.fs.dir(dir) do
      local id = name:match("^([%w_-]+)%.jsonl$")
      if id and kind == "file" then
        table.insert(ids, id)
      end
    end
  end
  local made = {}
  for _, id in ipairs(ids) do
    local stat = vim.uv.fs_stat(trace_path(id)) or {}
    local time = (stat.birthtime and stat.birthtime.sec > 0) and stat.birthtime or stat.mtime or { sec = 0, nsec = 0 }
    made[id] = time.sec * 1e9 + time.nsec
  end
  table.sort(ids, function(a, b)
    local second_a, second_b = a:match("^[^-]*"), b:match("^[^-]*")
    if second_a ~= second_b then
      return second_a > second_b
    end
    if made[a] ~= made[b] then
      return made[a] > made[b]
    end
    return a > b
  end)
  return ids
end

--- The run id `reference` names: a whole id, `last`, or the start of exactly one id.
function M.resolve(reference)
  local ids = run_ids()
  if reference == "last" then
    return ids[1] or nil, ("no runs recorded in %s"):format(runs_dir())
  end
  local matches = {}
  for _, id in ipairs(ids) do
    if id == reference then
      return id
    end
    if vim.startswith(id, reference) then
      table.insert(matches, id)
    end
  end
  if #matches == 1 then
    return matches[1]
  elseif #matches == 0 then
    return nil, ("no run `%s` in %s"):format(reference, runs_dir())
  end
  return nil, ("`%s` names %d runs: give more of the id"):format(reference, #matches)
end

--- A trace read into `{id, header, status, output, error, elapsed_ms, nodes = {…}}`, nodes in
--- the order they first started (sub-flow nodes, `parent/child`, included). Lines that do not
--- parse (a run killed mid-write) are skipped.
function M.read(id)
  local ok, lines = pcall(vim.fn.readfile, trace_path(id))
  if not ok then
    return nil, ("cannot read %s"):format(trace_path(id))
  end
  local run = { id = id, header = {}, nodes = {} }
  local by_id = {}
  local function node(name)
    if not by_id[name] then
      by_id[name] = { id = name, type = "", status = "running", ms = 0, runs = 0 }
      table.insert(run.nodes, by_id[name])
    end
    return by_id[name]
  end
  for _, line in ipairs(lines) do
    local parsed, event = pcall(vim.json.decode, line, { luanil = { object = true, array = true } })
    if parsed and type(event) == "table" then
      local kind, name = event.event, event.node
      if kind == "run" then
        run.header = event
      elseif kind == "node_started" and name then
        local n = node(name)
        n.type, n.status, n.runs = event.node_type or n.type, "running", n.runs + 1
      elseif kind == "node_finished" and name then
        local n = node(name)
        n.status, n.output, n.note = "succeeded", event.output, event.note
        n.ms = n.ms + (event.elapsed_ms or 0)
        n.model = event.model or n.model
        -- A replayed node has no `node_started` line: its output came from the parent run.
        if n.runs == 0 then
          n.status = "replayed"
        end
      elseif kind == "node_failed" and name then
        local n = node(name)
        n.status, n.error = "failed", event.error
        n.ms = n.ms + (event.elapsed_ms or 0)
      elseif kind == "finished" then
        run.status, run.output, run.error, run.elapsed_ms = event.status, event.output, event.error, event.elapsed_ms
      end
    end
  end
  return run
end

--- `replay of RUN from NODE` or `fork of RUN from NODE (set a.prompt, input)`, as the CLI says.
local function describe_fork(fork)
  local keys = vim.tbl_keys(fork.set or {})
  table.sort(keys)
  if #keys == 0 then
    return ("replay of %s from %s"):format(fork.run_id, fork.node)
  end
  return ("fork of %s from %s (set %s)"):format(fork.run_id, fork.node, table.concat(keys, ", "))
end

local function preview(text)
  for line in (text or ""):gmatch("[^\n]+") do
    line = vim.trim(line)
    if line ~= "" then
      if vim.fn.strchars(line) > PREVIEW_CHARS then
        line = vim.fn.strcharpart(line, 0, PREVIEW_CHARS) .. "…"
      end
      return line
    end
  end
  return ""
end

local MARKS = { succeeded = "✓", failed = "✗", running = "…", replayed = "↺" }

--- A scratch buffer named `name` (reused when it exists) holding `lines`, shown in a split.
local function show_buffer(name, lines, filetype)
  local buf
  for _, existing in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(existing) == name then
      buf = existing
    end
  end
  if not buf then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].filetype = filetype
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  local win = vim.fn.win_findbuf(buf)[1]
  if win then
    vim.api.nvim_set_current_win(win)
  else
    vim.cmd("botright 15split")
    vim.api.nvim_win_set_buf(0, buf)
  end
  vim.keymap.set("n", "q", "<cmd>close<cr>", { buffer = buf, desc = "CodexOS: close" })
  return buf
end

--- What each line of a runs or trace buffer stands for (a run id, a node), by buffer.
local lines_of = {}

--- :CodexRuns — the recorded runs, newest first; <CR> on one shows its trace.
function M.list()
  local ids = run_ids()
  local lines = { ("Runs in %s, newest first — <CR>: trace, q: close"):format(runs_dir()) }
  local at = {}
  for index, id in ipairs(ids) do
    if index > LISTED then
      table.insert(lines, ("… and %d older"):format(#ids - LISTED))
      break
    end
    local run = M.read(id) or { header = {}, nodes = {} }
    local failed = ""
    for _, node in ipairs(run.nodes) do
      if node.status == "failed" then
        failed = node.id
        break
      end
    end
    local fork = run.header.forked_from and ("  (" .. describe_fork(run.header.forked_from) .. ")") or ""
    local started = run.header.started_at and os.date("!%Y-%m-%dT%H:%M:%SZ", run.header.started_at) or "-"
    local seconds = run.elapsed_ms and ("%.1f s"):format(run.elapsed_ms / 1000) or "-"
    table.insert(
      lines,
      ("%s  %-10s  %-20s  %s  %7s  %s%s"):format(id, run.status or "incomplete", run.header.flow_id or "?", started, seconds, failed, fork)
    )
    at[#lines] = id
  end
  if #ids == 0 then
    table.insert(lines, "(no runs recorded yet: :CodexRun a flow)")
  end
  local buf = show_buffer("codexos://runs", lines, "codexos-runs")
  lines_of[buf] = at
  vim.keymap.set("n", "<CR>", function()
    local id = (lines_of[buf] or {})[vim.api.nvim_win_get_cursor(0)[1]]
    if id then
      M.trace(id)
    end
  end, { buffer = buf, desc = "CodexOS: show this run's trace" })
  return buf
end

--- The node of the trace buffer's current line, with its run, or nil with a message.
local function node_here(buf)
  local view = lines_of[buf]
  local node = view and view.nodes[vim.api.nvim_win_get_cursor(0)[1]]
  if not node then
    vim.notify("codexos: put the cursor on a node's line", vim.log.levels.WARN)
    return nil
  end
  if node.id:find("/", 1, true) then
    vim.notify(
      ("codexos: %s is inside a sub-flow: replay from its flow node %s"):format(node.id, node.id:match("^[^/]+")),
      vim.log.levels.WARN
    )
    return nil
  end
  return view.run_id, node
end

--- Asks for edits one at a time (`KEY=VALUE`; empty: done, <Esc>: give up), then `done(set)`.
local function ask_edits(node, set, done)
  local first = next(set) == nil
  vim.ui.input({
    prompt = ("Fork from %s: set KEY=VALUE (input, NODE.prompt, NODE.system, NODE.model, nodes.NODE.output; empty: run) "):format(node.id),
    default = (first and node.type == "llm") and (node.id .. ".prompt=") or "",
  }, function(text)
    if text == nil then
      return
    end
    if vim.trim(text) == "" then
      return done(set)
    end
    local key, value = text:match("^%s*([^=]-)%s*=(.*)$")
    if not key or key == "" then
      vim.notify(("codexos: `%s` is not KEY=VALUE"):format(text), vim.log.levels.WARN)
    else
      set[key] = value
    end
    ask_edits(node, set, done)
  end)
end

--- :CodexTrace RUN — the trace of RUN (an id, `last`, or the start of an id).
function M.trace(reference)
  local id, problem = M.resolve(reference ~= "" and reference or "last")
  if not id then
    vim.notify("codexos: " .. problem, vim.log.levels.ERROR)
    return nil
  end
  local run, unreadable = M.read(id)
  if not run then
    vim.notify("codexos: " .. unreadable, vim.log.levels.ERROR)
    return nil
  end
  local header = run.header
  local lines = {
    ("Run %s of %s: %s%s"):format(
      id,
      header.flow_id or "?",
      run.status or "incomplete",
      run.elapsed_ms and (" in %d ms"):format(run.elapsed_ms) or ""
    ),
  }
  if header.flow_path then
    table.insert(lines, "flow: " .. header.flow_path)
  end
  if header.forked_from then
    table.insert(lines, describe_fork(header.forked_from))
  end
  if header.retry_of then
    table.insert(lines, "retry of " .. header.retry_of)
  end
  table.insert(lines, "input: " .. preview(header.input))
  table.insert(lines, "")
  local nodes = {}
  for _, node in ipairs(run.nodes) do
    local depth = select(2, node.id:gsub("/", ""))
    local facts = { ("%d ms"):format(node.ms) }
    if node.model then
      table.insert(facts, node.model)
    end
    if node.note then
      table.insert(facts, node.note)
    end
    local shown = node.error and ("error: " .. preview(node.error)) or preview(node.output)
    table.insert(
      lines,
      ("%s%s %s%s · %s%s"):format(
        ("  "):rep(depth),
        MARKS[node.status] or "?",
        node.id,
        node.type ~= "" and (" (" .. node.type .. ")") or "",
        table.concat(facts, " · "),
        shown ~= "" and ("  " .. shown) or ""
      )
    )
    nodes[#lines] = node
  end
  table.insert(lines, "")
  if run.output then
    table.insert(lines, "output:")
    vim.list_extend(lines, vim.split(run.output, "\n", { plain = true }))
  elseif run.error then
    table.insert(lines, "error: " .. run.error:gsub("\n", " "))
  end
  table.insert(lines, "")
  table.insert(lines, "On a node: r replay from it · f fork from it (edit first) · <CR> its whole output · q close")
  local buf = show_buffer("codexos://trace/" .. id, lines, "codexos-trace")
  lines_of[buf] = { run_id = id, nodes = nodes }
  vim.keymap.set("n", "r", function()
    local run_id, node = node_here(buf)
    if run_id then
      require("codexos.run").replay(run_id, node.id)
    end
  end, { buffer = buf, desc = "CodexOS: replay the run from this node" })
  vim.keymap.set("n", "f", function()
    local run_id, node = node_here(buf)
    if run_id then
      ask_edits(node, {}, function(set)
        require("codexos.run").replay(run_id, node.id, set)
      end)
    end
  end, { buffer = buf, desc = "CodexOS: fork the run from this node, with edits" })
  vim.keymap.set("n", "<CR>", function()
    local view = lines_of[buf]
    local node = view and view.nodes[vim.api.nvim_win_get_cursor(0)[1]]
    if node then
      local text = node.error and ("error: " .. node.error) or (node.output or "")
      show_buffer(("codexos://trace/%s/%s"):format(id, node.id), vim.split(text, "\n", { plain = true }), "codexos-output")
    end
  end, { buffer = buf, desc = "CodexOS: this node's whole output" })
  return buf
end

return M
