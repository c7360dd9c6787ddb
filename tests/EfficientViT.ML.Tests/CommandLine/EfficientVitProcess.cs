namespace EfficientViT.ML.Tests.CommandLine;

/// <summary>Runs the built <c>efficientvit</c> command line as a user does: a process of its own.</summary>
internal static class EfficientVitProcess
{
    public static (int ExitCode, string[] Errors, string Output) Run(IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = ChildProgram.Run("efficientvit", ChildProgram.Built("src/Training", "efficientvit"), arguments, TimeSpan.FromMinutes(2), environment);
        return (exitCode, stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), stdout);
    }

    public static (int ExitCode, string[] Errors, string Output) Run(params string[] arguments) =>
        Run(new Dictionary<string, string?>(), arguments);
}
