-- Shared by the Neovim end-to-end scripts (tests/nvim.rs runs each with `nvim --headless --clean -l`):
-- report steps on stdout as `ok: …`, fail with `cq!` so the test fails, wait on conditions.
local H = {}

H.here = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p"))
H.repo = vim.fs.dirname(vim.fs.dirname(H.here))
-- tests/nvim.rs runs each script on a fresh copy of a fixture workspace.
H.workspace = os.getenv("CODEXOS_TEST_WORKSPACE") or (H.here .. "/project")
-- One wait's limit: generous for a cold server on a busy 2-core machine.
H.timeout_ms = 30000

--- Messages the plugin showed with vim.notify, in order ({message, level}); echoed on stderr.
H.notifications = {}

function H.fail(message)
  io.stderr:write("FAIL: " .. message .. "\n")
  for _, notification in ipairs(H.notifications) do
    io.stderr:write(("  notify(%s): %s\n"):format(notification.level or "-", notification.message))
  end
  vim.cmd("cq!")
end

function H.step(message)
  io.stdout:write("ok: " .. message .. "\n")
end

--- Waits until `condition()` is truthy; fails naming `what` (and what `describe()` says) if not.
function H.wait(what, condition, describe, timeout_ms)
  local value
  local done = vim.wait(timeout_ms or H.timeout_ms, function()
    value = condition()
    return value
  end, 20)
  if not done then
    H.fail(("timed out waiting for %s%s"):format(what, describe and (": " .. describe()) or ""))
  end
  return value
end

function H.lines(buf)
  return vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end

function H.text(buf)
  return table.concat(H.lines(buf), "\n")
end

--- The 0-based line and byte column of the first `needle` (plain text) in the buffer.
function H.find(buf, needle)
  for line_number, line in ipairs(H.lines(buf)) do
    local column = line:find(needle, 1, true)
    if column then
      return line_number - 1, column - 1
    end
  end
  H.fail("the buffer has no " .. needle .. ":\n" .. H.text(buf))
end

--- The first buffer whose name matches the Lua pattern, or nil.
function H.buffer_named(pattern)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(buf):match(pattern) then
      return buf
    end
  end
end

--- The console buffer whose name matches `pattern`, once its run has ended ("■ …" line).
function H.finished_console(pattern, ending)
  local buf = H.wait("a console " .. pattern, function()
    return H.buffer_named(pattern)
  end)
  H.wait("the run in " .. pattern .. " to end with " .. ending, function()
    return H.text(buf):find("\n" .. ending, 1, true) ~= nil
  end, function()
    return H.text(buf)
  end)
  return buf, H.lines(buf)
end

--- Loads the plugin from editors/nvim the way the README says, and records its notifications.
function H.setup_plugin(opts)
  if vim.fn.exepath("codexos") == "" then
    H.fail("no `codexos` on PATH")
  end
  local expected = os.getenv("CODEXOS_BIN")
  if expected and vim.fn.exepath("codexos") ~= expected then
    H.fail("`codexos` on PATH is " .. vim.fn.exepath("codexos") .. ", not the binary under test " .. expected)
  end
  vim.notify = function(message, level)
    table.insert(H.notifications, { message = message, level = level })
    io.stderr:write(("notify(%s): %s\n"):format(level or "-", message))
  end
  vim.opt.runtimepath:append(H.repo .. "/editors/nvim")
  vim.cmd.cd(vim.fn.fnameescape(H.workspace))
  require("codexos").setup(opts)
end

--- Opens `relative` (a workspace path) and waits until the codexos client is attached to it.
function H.open_attached(relative)
  vim.cmd.edit(vim.fn.fnameescape(H.workspace .. "/" .. relative))
  local buf = vim.api.nvim_get_current_buf()
  local client = H.wait("codexos lsp to attach to " .. relative, function()
    local client = vim.lsp.get_clients({ bufnr = buf, name = "codexos" })[1]
    return client and client.initialized and client
  end)
  return buf, client
end

--- Fails when the plugin reported an error through vim.notify.
function H.no_errors()
  for _, notification in ipairs(H.notifications) do
    if notification.level == vim.log.levels.ERROR then
      H.fail("the plugin reported an error: " .. notification.message)
    end
  end
end

return H
