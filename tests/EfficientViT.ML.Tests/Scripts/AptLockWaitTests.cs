using System.Diagnostics;

namespace EfficientViT.ML.Tests.Scripts;

/// <summary>
/// scripts/setup.sh's apt_get_waiting (scripts/apt-get-waiting.sh) against a stand-in apt-get on the PATH: it
/// waits while another process holds the package lock, tells apt-get to wait for dpkg's lock itself, and fails at
/// once on any other error.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class AptLockWaitTests
{
    [Fact]
    public void A_held_lock_is_waited_for_and_the_command_run_again()
    {
        using var dir = new TempDirectory();
        // Refused twice, as apt-get update is while unattended-upgrades runs, then done.
        var (status, stdout, stderr, calls) = Run(dir, failures: 2, error: "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4321 (apt-get)", "update", "-qq");
        Assert.Equal(0, status);
        Assert.Equal(3, calls.Length);
        Assert.All(calls, call => Assert.Equal("-o DPkg::Lock::Timeout=600 update -qq", call));
        Assert.Equal("[setup] another apt or dpkg process holds the package lock (Could not get lock /var/lib/apt/lists/lock. It is held by process 4321 (apt-get)); waiting for it, at most 600 s",
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal("done", stdout.Trim());
    }

    [Fact]
    public void Another_error_fails_at_once_with_apt_gets_message_and_status()
    {
        using var dir = new TempDirectory();
        var (status, _, stderr, calls) = Run(dir, failures: 5, error: "E: Unable to locate package no-such-package", "install", "-y", "no-such-package");
        Assert.Equal(100, status);
        Assert.Single(calls);
        Assert.Equal("E: Unable to locate package no-such-package", stderr.Trim());
    }

    // Runs apt_get_waiting with a stand-in apt-get that fails `failures` times with `error`, then prints "done".
    private static (int Status, string Stdout, string Stderr, string[] Calls) Run(TempDirectory dir, int failures, string error, params string[] arguments)
    {
        var calls = dir.File("calls");
        var fake = dir.File("apt-get");
        File.WriteAllText(fake, $"""
            #!/bin/bash
            echo "$*" >> '{calls}'
            if [ "$(wc -l < '{calls}')" -le {failures} ]; then echo '{error}' >&2; exit 100; fi
            echo done
            """.Replace("\r", ""));
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var script = Path.Combine(ChildProgram.RepositoryRoot, "scripts", "apt-get-waiting.sh");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("set -euo pipefail; say() { printf '[setup] %s\\n' \"$*\"; }; as_root() { \"$@\"; }; . \"$0\"; apt_get_waiting \"$@\"");
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.Environment["PATH"] = dir.Path + ":" + Environment.GetEnvironmentVariable("PATH");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)), "apt_get_waiting did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result, File.Exists(calls) ? File.ReadAllLines(calls) : []);
    }
}
