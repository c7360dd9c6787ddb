namespace EfficientViT.ML.Tests.Training;

/// <summary>
/// Tests that train and compare runs bit for bit. Libtorch's thread count and random generator are
/// process-wide: another test changing them mid-run moves a reduction's summation order, and Adam turns
/// such a last-bit difference in a near-zero gradient into a visible one. These tests run after the
/// parallel ones, one at a time, with nothing else running.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchGlobalStateCollection
{
    public const string Name = "Torch global state";
}
