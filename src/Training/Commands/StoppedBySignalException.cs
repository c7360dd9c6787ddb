namespace EfficientViT.Training.Commands;

/// <summary>A command stopped by a signal after doing what the signal asks (a training run saves first); the process ends with <see cref="ExitCode"/>.</summary>
/// <param name="exitCode">128 plus the signal's number, as a shell reports a process the signal ended: 143 for SIGTERM.</param>
internal sealed class StoppedBySignalException(int exitCode) : Exception($"stopped by signal {exitCode - 128}")
{
    public int ExitCode => exitCode;
}
