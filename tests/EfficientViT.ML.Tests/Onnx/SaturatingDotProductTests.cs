using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>
/// The uint8×int8 dot product as x64 CPUs without VNNI compute it, against exact arithmetic: the int8 graph
/// must give the same sums on those CPUs as on CPUs with VNNI, where the products are summed in 32 bits.
/// </summary>
public class SaturatingDotProductTests
{
    /// <summary>
    /// <c>vpmaddubsw</c> then <c>vpmaddwd</c>: each two neighbouring uint8×int8 products are added in a
    /// saturating signed 16-bit lane, and the 16-bit lanes are then added in 32 bits.
    /// </summary>
    private static long SaturatingDot(byte[] activations, sbyte[] weights)
    {
        long sum = 0;
        for (var k = 0; k < activations.Length; k += 2)
        {
            var pair = activations[k] * weights[k] + (k + 1 < activations.Length ? activations[k + 1] * weights[k + 1] : 0);
            sum += Math.Clamp(pair, short.MinValue, short.MaxValue);
        }
        return sum;
    }

    private static long ExactDot(byte[] activations, sbyte[] weights)
    {
        long sum = 0;
        for (var k = 0; k < activations.Length; k++)
            sum += activations[k] * weights[k];
        return sum;
    }

    [Theory]
    // Two large products of one sign: 64,770 is clipped to 32,767.
    [InlineData(new byte[] { 255, 255 }, new sbyte[] { 127, 127 }, 64770, 32767)]
    // Of opposite signs they cancel in the lane: nothing is clipped.
    [InlineData(new byte[] { 255, 255 }, new sbyte[] { 127, -127 }, 0, 0)]
    // Two clipped lanes of opposite signs: exact 0, computed -1.
    [InlineData(new byte[] { 255, 255, 255, 255 }, new sbyte[] { 127, 127, -127, -127 }, 0, -1)]
    // Seven-bit weights: the largest pair, 32,130, fits.
    [InlineData(new byte[] { 255, 255 }, new sbyte[] { 63, 63 }, 32130, 32130)]
    [InlineData(new byte[] { 255, 255 }, new sbyte[] { -63, -63 }, -32130, -32130)]
    // Even the excluded -64 would fit: 255·64·2 = 32,640.
    [InlineData(new byte[] { 255, 255, 0 }, new sbyte[] { -64, -64, 5 }, -32640, -32640)]
    public void The_reference_saturates_as_vpmaddubsw_does(byte[] activations, sbyte[] weights, long exact, long saturated)
    {
        Assert.Equal(exact, ExactDot(activations, weights));
        Assert.Equal(saturated, SaturatingDot(activations, weights));
    }

    [Fact]
    public void No_pair_of_seven_bit_weights_saturates_with_any_uint8_activations()
    {
        // A pair's sum is linear in each activation, so its extremes over [0, 255]² are at the corners.
        byte[][] corners = [[0, 0], [0, 255], [255, 0], [255, 255]];
        var clippedFullRange = 0;
        for (var w1 = -QdqPlacer.FullWeightLimit; w1 <= QdqPlacer.FullWeightLimit; w1++)
        {
            for (var w2 = -QdqPlacer.FullWeightLimit; w2 <= QdqPlacer.FullWeightLimit; w2++)
            {
                sbyte[] weights = [(sbyte)w1, (sbyte)w2];
                var sevenBit = Math.Abs(w1) <= QdqPlacer.ReducedWeightLimit && Math.Abs(w2) <= QdqPlacer.ReducedWeightLimit;
                foreach (var a in corners)
                {
                    var same = SaturatingDot(a, weights) == ExactDot(a, weights);
                    if (sevenBit)
                        Assert.True(same, $"weights ({w1}, {w2}), activations ({a[0]}, {a[1]})");
                    else if (!same)
                        clippedFullRange++;
                }
            }
        }
        // The full range is not safe: many pairs clip (a witness that the check can fail).
        Assert.True(clippedFullRange > 1000, $"{clippedFullRange} clipped corner cases with eight-bit weights");
    }

    [Fact]
    public void The_exported_int8_weights_of_a_network_can_never_saturate_and_full_range_ones_could()
    {
        // For any packing of a convolution's reduction into pairs, its worst pair is at most the two largest
        // |w| of an output channel times 255. Read the int8 initializers back from the written graph.
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 0);
        model.eval();
        var random = new Random(3);
        var images = Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, 3 * 64 * 64).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()).ToArray();
        var calibration = Int8Calibrator.Calibrate(model, images);
        using var dir = new TempDirectory();
        var worst = new Dictionary<bool, (int Layers, int Saturable)>();
        foreach (var fullRange in new[] { false, true })
        {
            var path = dir.File(fullRange ? "full.onnx" : "reduced.onnx");
            EfficientVitOnnxExporter.Export(model, path, new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = calibration, FullRangeWeights = fullRange } });
            var (exitCode, stdout, stderr) = OnnxChecker.RunPython(
                "import onnx,sys\nfrom onnx import numpy_helper\nimport numpy as np\nm=onnx.load(sys.argv[1])\nlayers=saturable=0\n" +
                "for i in m.graph.initializer:\n" +
                "  if i.data_type!=onnx.TensorProto.INT8 or len(i.dims)!=4: continue\n" +
                "  w=np.abs(numpy_helper.to_array(i).astype(np.int64)).reshape(i.dims[0],-1)\n" +
                "  top=np.sort(w,axis=1)[:,-2:].sum(axis=1) if w.shape[1]>1 else w[:,0]\n" +
                "  layers+=1; saturable+=int((top*255>32767).any())\n" +
                "print(layers,saturable)", path);
            Assert.True(exitCode == 0, stderr);
            var counts = stdout.Trim().Split(' ').Select(int.Parse).ToArray();
            worst[fullRange] = (counts[0], counts[1]);
        }
        Assert.True(worst[false].Layers > 40, $"{worst[false].Layers} int8 weight tensors");
        Assert.Equal(0, worst[false].Saturable);
        // Per-channel scales put some weight at ±127 in every channel, so eight bits leave most layers exposed.
        Assert.True(worst[true].Saturable > worst[true].Layers / 2, $"{worst[true].Saturable} of {worst[true].Layers} layers could saturate with eight-bit weights");
    }
}
