using EfficientViT.ML.Onnx;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>
/// Models built with <see cref="OnnxGraphBuilder"/> run in ONNX Runtime, agree with computations done independently
/// (TorchSharp or hand loops) and pass the reference ONNX checker.
/// </summary>
public sealed class OnnxGraphBuilderTests
{
    private const float Tolerance = 1e-5f;

    [Fact]
    public void Conv_relu_reshape_matmul_softmax_matches_torch_and_passes_the_checker()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(21);
        var x = randn(2, 3, 8, 8, generator: generator);
        var convWeight = randn(4, 3, 3, 3, generator: generator) * 0.3f;
        var convBias = randn(4, generator: generator) * 0.1f;
        var fcWeight = randn(64, 5, generator: generator) * 0.2f;

        var builder = new OnnxGraphBuilder("tiny_cnn");
        string input = builder.AddInput("x", OnnxElementType.Float, 2, 3, 8, 8);
        string w = builder.AddInitializer("conv.weight", convWeight);
        // The float[] overload for the bias, so that both overloads feed a real computation.
        string b = builder.AddInitializer("conv.bias", convBias.data<float>().ToArray(), 4);
        string conv = builder.AddNode("Conv", [input, w, b],
            OnnxAttribute.Ints("kernel_shape", 3, 3),
            OnnxAttribute.Ints("pads", 1, 1, 1, 1),
            OnnxAttribute.Ints("strides", 2, 2));
        string relu = builder.AddNode("Relu", [conv]);
        string shape = builder.AddInitializer("flatten_shape", new long[] { 0, -1 }, 2);
        string flat = builder.AddNode("Reshape", [relu, shape]);
        string fc = builder.AddInitializer("fc.weight", fcWeight);
        string logits = builder.AddNode("MatMul", [flat, fc]);
        builder.AddNode("Softmax", [logits], "probs", OnnxAttribute.Int("axis", -1));
        builder.AddOutput("probs", OnnxElementType.Float, 2, 5);
        byte[] model = builder.ToBytes();

        var outputs = OnnxRuntimeRunner.Run(model, ("x", x));

        var expected = F.softmax(
            F.relu(F.conv2d(x, convWeight, convBias, strides: [2, 2], padding: [1, 1])).reshape(2, -1).matmul(fcWeight), -1);
        Assert.Equal(["probs"], outputs.Keys);
        Assert.True(TestFiles.MaxAbsDiff(expected, outputs["probs"]) <= Tolerance);
        // Softmax rows that are not one-hot show the whole chain did something.
        Assert.True(expected.max().item<float>() < 0.999f);

        using var dir = new TempDirectory();
        string path = dir.File("tiny_cnn.onnx");
        File.WriteAllBytes(path, model);
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void Split_with_three_outputs_matches_slicing_by_hand()
    {
        using var scope = NewDisposeScope();
        float[] data = Enumerable.Range(0, 2 * 9).Select(i => i * 0.5f - 3f).ToArray();
        long[] sizes = [2, 3, 4];

        var builder = new OnnxGraphBuilder("split");
        string x = builder.AddInput("x", OnnxElementType.Float, 2, 9);
        string split = builder.AddInitializer("split", sizes, 3);
        IReadOnlyList<string> parts = builder.AddNode("Split", [x, split], 3, OnnxAttribute.Int("axis", 1));
        Assert.Equal(3, parts.Count);
        Assert.Equal(3, parts.Distinct().Count());
        for (int k = 0; k < 3; k++)
            builder.AddOutput(parts[k], OnnxElementType.Float, 2, sizes[k]);
        byte[] model = builder.ToBytes();

        var outputs = OnnxRuntimeRunner.Run(model, ("x", tensor(data, 2, 9)));

        long offset = 0;
        for (int k = 0; k < 3; k++)
        {
            var expected = new float[2 * sizes[k]];
            for (int row = 0; row < 2; row++)
                for (int col = 0; col < sizes[k]; col++)
                    expected[row * sizes[k] + col] = data[row * 9 + offset + col];
            Assert.True(TestFiles.MaxAbsDiff(tensor(expected, 2, sizes[k]), outputs[parts[k]]) <= Tolerance);
            offset += sizes[k];
        }

        using var dir = new TempDirectory();
        string path = dir.File("split.onnx");
        File.WriteAllBytes(path, model);
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void Dynamic_batch_runs_for_batch_1_and_5()
    {
        using var scope = NewDisposeScope();
        float[] weight = Enumerable.Range(0, 4 * 3).Select(i => MathF.Sin(i + 1)).ToArray();
        float[] bias = [0.5f, -0.25f, 1f];

        var builder = new OnnxGraphBuilder("linear");
        string x = builder.AddInput("x", OnnxElementType.Float, "batch", 4);
        string product = builder.AddNode("MatMul", [x, builder.AddInitializer("weight", weight, 4, 3)]);
        builder.AddNode("Add", [product, builder.AddInitializer("bias", bias, 3)], "y");
        builder.AddOutput("y", OnnxElementType.Float, "batch", 3);
        byte[] model = builder.ToBytes();

        using var session = new InferenceSession(model);
        Assert.Equal(-1, session.InputMetadata["x"].Dimensions[0]);
        Assert.Equal("batch", session.InputMetadata["x"].SymbolicDimensions[0]);
        Assert.Equal("batch", session.OutputMetadata["y"].SymbolicDimensions[0]);

        foreach (int batch in new[] { 1, 5 })
        {
            float[] input = Enumerable.Range(0, batch * 4).Select(i => MathF.Cos(i * 0.7f)).ToArray();
            var expected = new float[batch * 3];
            for (int n = 0; n < batch; n++)
                for (int j = 0; j < 3; j++)
                {
                    float sum = bias[j];
                    for (int i = 0; i < 4; i++)
                        sum += input[n * 4 + i] * weight[i * 3 + j];
                    expected[n * 3 + j] = sum;
                }

            var y = OnnxRuntimeRunner.Run(session, ("x", tensor(input, batch, 4)))["y"];

            Assert.Equal([batch, 3L], y.shape);
            Assert.True(TestFiles.MaxAbsDiff(tensor(expected, batch, 3), y) <= Tolerance);
        }

        using var dir = new TempDirectory();
        string path = dir.File("linear.onnx");
        File.WriteAllBytes(path, model);
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void Every_attribute_kind_and_an_omitted_optional_input_work()
    {
        using var scope = NewDisposeScope();
        float[] data = [-1f, 0f, 2f, 3f, -4f, 0.5f];
        float[] offsets = [1.5f, -2f, 3f];
        const float scale = 0.25f, max = 0.5f, alpha = 0.1f;

        var builder = new OnnxGraphBuilder("attributes");
        string x = builder.AddInput("x", OnnxElementType.Float, 2, 3);
        string offsetConstant = builder.AddNode("Constant", [], OnnxAttribute.Floats("value_floats", offsets)); // FLOATS
        string scaleConstant = builder.AddNode("Constant", [], OnnxAttribute.Float("value_float", scale)); // FLOAT
        string shifted = builder.AddNode("Add", [x, offsetConstant]);
        string scaled = builder.AddNode("Mul", [shifted, scaleConstant]);
        // Clip(input, min, max) with min omitted: "" keeps max in the third position.
        string clipped = builder.AddNode("Clip", [scaled, "", builder.AddInitializer("max", [max])]);
        string pads = builder.AddInitializer("pads", new long[] { 0, 1, 0, 1 }, 4);
        string padded = builder.AddNode("Pad", [clipped, pads], OnnxAttribute.String("mode", "reflect")); // STRING
        builder.AddNode("LeakyRelu", [padded], "y", OnnxAttribute.Float("alpha", alpha));
        builder.AddOutput("y", OnnxElementType.Float, 2, 5);
        byte[] model = builder.ToBytes();

        var y = OnnxRuntimeRunner.Run(model, ("x", tensor(data, 2, 3)))["y"];

        var expected = new float[2 * 5];
        for (int row = 0; row < 2; row++)
        {
            var v = new float[3];
            for (int col = 0; col < 3; col++)
                v[col] = MathF.Min((data[row * 3 + col] + offsets[col]) * scale, max);
            float[] reflected = [v[1], v[0], v[1], v[2], v[1]];
            for (int col = 0; col < 5; col++)
                expected[row * 5 + col] = reflected[col] >= 0 ? reflected[col] : alpha * reflected[col];
        }
        Assert.True(TestFiles.MaxAbsDiff(tensor(expected, 2, 5), y) <= Tolerance);

        using var dir = new TempDirectory();
        string path = dir.File("attributes.onnx");
        File.WriteAllBytes(path, model);
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void Tensor_initializers_copy_float_and_int64_data_of_any_layout()
    {
        using var scope = NewDisposeScope();
        var source = arange(24, dtype: ScalarType.Float32).reshape(2, 3, 4);
        var transposed = source.permute(2, 0, 1); // not contiguous
        var indices = tensor(new long[] { 5, -7, long.MaxValue, long.MinValue }, 2, 2);
        var scalar = tensor(3.25f); // rank 0

        var builder = new OnnxGraphBuilder("constants");
        string t = builder.AddInitializer("t", transposed);
        string i = builder.AddInitializer("i", indices);
        string s = builder.AddInitializer("s", scalar);
        builder.AddNode("Identity", [t], "t_out");
        builder.AddNode("Identity", [i], "i_out");
        builder.AddNode("Identity", [s], "s_out");
        builder.AddOutput("t_out", OnnxElementType.Float, 4, 2, 3);
        builder.AddOutput("i_out", OnnxElementType.Int64, 2, 2);
        builder.AddOutput("s_out", OnnxElementType.Float);
        // The data was copied: changing the source afterwards does not change the model.
        source.add_(100);
        var expectedTransposed = arange(24, dtype: ScalarType.Float32).reshape(2, 3, 4).permute(2, 0, 1);
        byte[] model = builder.ToBytes();

        var outputs = OnnxRuntimeRunner.Run(model);

        Assert.Equal(0f, TestFiles.MaxAbsDiff(expectedTransposed, outputs["t_out"]));
        Assert.Equal(ScalarType.Int64, outputs["i_out"].dtype);
        Assert.Equal(indices.data<long>().ToArray(), outputs["i_out"].data<long>().ToArray());
        Assert.Empty(outputs["s_out"].shape);
        Assert.Equal(3.25f, outputs["s_out"].item<float>());

        using var dir = new TempDirectory();
        string path = dir.File("constants.onnx");
        File.WriteAllBytes(path, model);
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void Tensor_initializers_of_other_types_are_rejected()
    {
        using var scope = NewDisposeScope();
        var builder = new OnnxGraphBuilder("g");
        var error = Assert.Throws<ArgumentException>(() => builder.AddInitializer("d", ones(2, dtype: ScalarType.Float64)));
        Assert.Contains("Float64", error.Message);
    }

    [Fact]
    public void Names_are_made_unique_from_their_hints()
    {
        var builder = new OnnxGraphBuilder("names");
        string x = builder.AddInput("x", OnnxElementType.Float, 2);
        Assert.Equal("w", builder.AddInitializer("w", [1f, 2f], 2));
        Assert.Equal("w_1", builder.AddInitializer("w", [3f, 4f], 2));
        Assert.Equal("w_2", builder.AddInitializer("w", [5f, 6f], 2));
        Assert.Equal("w_1_1", builder.AddInitializer("w_1", [7f, 8f], 2));
        Assert.Equal("x_1", builder.AddInitializer("x", [0f, 0f], 2)); // an input's name is taken too

        string add0 = builder.AddNode("Add", [x, "w"]);
        Assert.Equal("Add_0", add0);
        Assert.Equal("Add_1_1", builder.AddInitializer("Add_1_1", [1f, 1f], 2)); // an initializer took the name ...
        Assert.Equal("Add_1", builder.AddInitializer("Add_1", [9f, 9f], 2)); // ... and the next node's name
        string add1 = builder.AddNode("Add", [add0, "w_1"]); // so the node's output gets the next free one
        Assert.Equal("Add_1_2", add1);
        string halves = builder.AddInitializer("halves", new long[] { 1, 1 }, 2);
        IReadOnlyList<string> parts = builder.AddNode("Split", [add1, halves], 2, OnnxAttribute.Int("axis", 0));
        Assert.Equal(["Split_2_0", "Split_2_1"], parts);

        // A chosen name must be free: silently renaming it would break whoever feeds or reads it by name.
        Assert.Throws<ArgumentException>(() => builder.AddInput("w", OnnxElementType.Float, 2));
        Assert.Throws<ArgumentException>(() => builder.AddNode("Relu", [add1], "x"));

        string y = builder.AddNode("Concat", [parts[1], parts[0], "w_2", "w_1_1", "x_1", "Add_1", "Add_1_1"], "y", OnnxAttribute.Int("axis", 0));
        builder.AddOutput(y, OnnxElementType.Float, 12);
        byte[] model = builder.ToBytes();

        using var scope = NewDisposeScope();
        var result = OnnxRuntimeRunner.Run(model, ("x", tensor(new[] { 10f, 20f })))["y"];
        // x + w + w_1 = [14, 26], split and swapped, then the other initializers in order.
        Assert.Equal([26f, 14f, 5f, 6f, 7f, 8f, 0f, 0f, 9f, 9f, 1f, 1f], result.data<float>().ToArray());

        using var dir = new TempDirectory();
        string path = dir.File("names.onnx");
        File.WriteAllBytes(path, model);
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void A_node_consuming_an_undefined_value_is_rejected_when_added()
    {
        var builder = new OnnxGraphBuilder("g");
        builder.AddInput("x", OnnxElementType.Float, 2);
        var error = Assert.Throws<ArgumentException>(() => builder.AddNode("Add", ["x", "nowhere"]));
        Assert.Contains("'nowhere'", error.Message);

        // The rejected node left nothing behind: the next node still gets index 0.
        Assert.Equal("Relu_0", builder.AddNode("Relu", ["x"]));
    }

    [Fact]
    public void Misuse_fails_at_the_call_that_makes_it()
    {
        var builder = new OnnxGraphBuilder("g");
        builder.AddInput("x", OnnxElementType.Float, 2);
        Assert.Throws<ArgumentException>(() => builder.AddInitializer("w", [1f, 2f, 3f], 2));
        Assert.Throws<ArgumentException>(() => builder.AddInitializer("w", [1f], 2, -1));
        Assert.Throws<ArgumentException>(() => builder.AddInitializer("w", new long[] { 1, 2 })); // no shape = scalar
        Assert.Throws<ArgumentException>(() => builder.AddOutput("not_there", OnnxElementType.Float, 2));
        Assert.Throws<ArgumentException>(() => builder.AddNode("Relu", ["x"], OnnxAttribute.Int("a", 1), OnnxAttribute.Int("a", 2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.AddNode("Split", ["x"], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxDimension.Fixed(-1));
        Assert.Throws<ArgumentException>(() => OnnxDimension.Symbolic(" "));
        Assert.Throws<InvalidOperationException>(() => builder.ToBytes()); // no output yet

        builder.AddOutput("x", OnnxElementType.Float, 2);
        Assert.Throws<ArgumentException>(() => builder.AddOutput("x", OnnxElementType.Float, 2));
        builder.AddMetadata("k", "v");
        Assert.Throws<ArgumentException>(() => builder.AddMetadata("k", "again"));
    }

    [Fact]
    public void Metadata_doc_string_and_producer_reach_onnx_runtime()
    {
        var builder = new OnnxGraphBuilder("described");
        string x = builder.AddInput("x", OnnxElementType.Float, 1);
        builder.AddNode("Identity", [x], "y");
        builder.AddOutput("y", OnnxElementType.Float, 1);
        builder.AddMetadata("variant", "M0");
        builder.AddMetadata("labels", "cat,dog");
        builder.DocString = "A test model.";

        using var session = new InferenceSession(builder.ToBytes(producerName: "tests", producerVersion: "1.2.3"));

        var metadata = session.ModelMetadata;
        Assert.Equal("described", metadata.GraphName);
        Assert.Equal("tests", metadata.ProducerName);
        Assert.Equal("A test model.", metadata.Description);
        Assert.Equal("M0", metadata.CustomMetadataMap["variant"]);
        Assert.Equal("cat,dog", metadata.CustomMetadataMap["labels"]);
    }

    [Fact]
    public void Save_writes_the_same_bytes_atomically()
    {
        var builder = new OnnxGraphBuilder("saved");
        string x = builder.AddInput("x", OnnxElementType.Float, "n");
        builder.AddNode("Neg", [x], "y");
        builder.AddOutput("y", OnnxElementType.Float, "n");

        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "sub", "saved.onnx");
        builder.Save(path, producerVersion: "0");

        Assert.Equal(builder.ToBytes(producerVersion: "0"), File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left
        using var session = new InferenceSession(path);
        Assert.Equal(["y"], session.OutputNames);
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void Bytes_are_identical_to_what_the_onnx_python_helpers_serialize()
    {
        // The same model built with onnx.helper: equal bytes show every field number, wire type and field order
        // matches what protobuf itself writes for onnx.proto.
        const string script = """
            import sys
            import numpy as np
            from onnx import helper, TensorProto
            weight = np.arange(6, dtype=np.float32).reshape(3, 2) * np.float32(0.5)
            graph = helper.make_graph(
                [
                    helper.make_node("MatMul", ["x", "w"], ["MatMul_0"], name="MatMul_0"),
                    helper.make_node("Conv", ["MatMul_0", "", "w"], ["Conv_1"], name="Conv_1",
                                     auto_pad="NOTSET", kernel_shape=[1, 1], pads=[0, -1, 0, 300]),
                    helper.make_node("LeakyRelu", ["Conv_1"], ["y"], name="LeakyRelu_2", alpha=0.1),
                ],
                "identical",
                [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
                initializer=[
                    helper.make_tensor("w", TensorProto.FLOAT, [3, 2], weight.tobytes(), raw=True),
                    helper.make_tensor("shape", TensorProto.INT64, [2], np.array([0, -1], dtype=np.int64).tobytes(), raw=True),
                ],
            )
            model = helper.make_model(graph, producer_name="EfficientViT.ML", producer_version="9.9",
                                      opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
            model.doc_string = "doc"
            helper.set_model_props(model, {"a": "1"})
            with open(sys.argv[1], "wb") as f:
                f.write(model.SerializeToString())
            """;

        // Not a runnable model (Conv on a matrix), but every field is a valid encoding to compare.
        var builder = new OnnxGraphBuilder("identical");
        string x = builder.AddInput("x", OnnxElementType.Float, "batch", 3);
        string w = builder.AddInitializer("w", Enumerable.Range(0, 6).Select(i => i * 0.5f).ToArray(), 3, 2);
        builder.AddInitializer("shape", new long[] { 0, -1 }, 2);
        string product = builder.AddNode("MatMul", [x, w]);
        // onnx.helper.make_node sorts attributes by name, so they are given in that order here.
        string conv = builder.AddNode("Conv", [product, "", w],
            OnnxAttribute.String("auto_pad", "NOTSET"),
            OnnxAttribute.Ints("kernel_shape", 1, 1),
            OnnxAttribute.Ints("pads", 0, -1, 0, 300));
        builder.AddNode("LeakyRelu", [conv], "y", OnnxAttribute.Float("alpha", 0.1f));
        builder.AddOutput("y", OnnxElementType.Float, "batch", 2);
        builder.DocString = "doc";
        builder.AddMetadata("a", "1");

        using var dir = new TempDirectory();
        string pythonPath = dir.File("python.onnx");
        var (exitCode, _, stderr) = OnnxChecker.RunPython(script, pythonPath);
        Assert.True(exitCode == 0, stderr);

        byte[] ours = builder.ToBytes(producerVersion: "9.9");
        byte[] theirs = File.ReadAllBytes(pythonPath);
        Assert.Equal(Convert.ToHexString(theirs), Convert.ToHexString(ours));
    }
}
