namespace EfficientViT.ML.Acceleration;

/// <summary>
/// The .NET garbage of a training step, collected when the step ends. TorchSharp's objects (tensor handles, the
/// autograd nodes of custom functions, scalars) free their native allocations in finalizers when nothing disposed
/// them, and each step leaves many behind. A step allocates little managed memory, so .NET went many steps
/// without collecting (none in 22 steps of M0 at 64x64, three at 224x224), and those native allocations, spread
/// through the C heap between the steps' activations, kept it from reusing the activations' freed blocks: the heap
/// grew step after step. Collecting after each step, the process's peak after 60 steps of M0 at 64x64 (batch 128)
/// was 348-349 MiB instead of 534-543, and after 20 steps at 224x224 1,381-1,393 MiB instead of 2,052-2,064, at
/// the same images/s (alternating runs).
/// </summary>
internal static class StepGarbage
{
    /// <summary>Collects the young generations, where a step's garbage is (older objects outlive steps).</summary>
    public static void Collect() => GC.Collect(1, GCCollectionMode.Forced, blocking: true);
}
