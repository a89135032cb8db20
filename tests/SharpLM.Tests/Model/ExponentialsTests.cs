using SharpLM.Model;
using Xunit;

namespace SharpLM.Tests.Model;

/// <summary>The softmax rows' exponentials against double-precision <see cref="Math.Exp"/>: accuracy over the whole range
/// a float's exponential covers, the same value wherever it sits in a row (the last values take the vector code too), the
/// sum, and what happens at the ends (-inf, overflow, NaN).</summary>
public sealed class ExponentialsTests
{
    [Fact]
    public void EveryValueIsWithinTwoUnitsInTheLastPlace()
    {
        var random = new Random(3);
        var x = new float[100_003];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 175 - 87); // [-87, 88]: normal results
        var e = (float[])x.Clone();
        Exponentials.ScaledSum(e, 1, 0);
        for (int i = 0; i < x.Length; i++)
        {
            double exact = Math.Exp(x[i]);
            double ulp = MathF.BitIncrement((float)exact) - (float)exact;
            Assert.True(Math.Abs(e[i] - exact) <= 2 * ulp, $"exp({x[i]}) = {e[i]}, expected {exact}");
        }
    }

    [Fact]
    public void ScaleShiftAndSumAreApplied()
    {
        float[] row = [0.5f, -1, 2, 3.25f, -7, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4, -2, 0.125f]; // 16 and 3 more
        var e = (float[])row.Clone();
        float sum = Exponentials.ScaledSum(e, 0.5f, -1.5f);
        double expectedSum = 0;
        for (int i = 0; i < row.Length; i++)
        {
            double exact = Math.Exp(row[i] * 0.5 - 1.5);
            expectedSum += exact;
            Assert.True(Math.Abs(e[i] - exact) <= 3e-7 * exact, $"value {i}: {e[i]}, expected {exact}");
        }
        Assert.True(Math.Abs(sum - expectedSum) <= 1e-6 * expectedSum, $"sum {sum}, expected {expectedSum}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(40)]
    public void AValueGetsTheSameExponentialWhereverItIs(int length)
    {
        // A property of the AVX-512 code; elsewhere TensorPrimitives, whose scalar tail can differ from its vectors.
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return;
        var random = new Random(length);
        var row = new float[length];
        for (int i = 0; i < length; i++) row[i] = (float)(random.NextDouble() * 20 - 10);
        var e = (float[])row.Clone();
        float sum = Exponentials.ScaledSum(e, 1, 0);
        for (int i = 0; i < length; i++)
        {
            var alone = new[] { row[i] }; // alone in a row of one: the tail's path
            Exponentials.ScaledSum(alone, 1, 0);
            Assert.Equal(alone[0], e[i]);
        }
        Assert.True(Math.Abs(sum - e.Sum()) <= 1e-6 * sum);
    }

    [Fact]
    public void TheEndsOfTheRange()
    {
        float[] row = [float.NegativeInfinity, -200, -103, 89, float.NaN, 0];
        float sum = Exponentials.ScaledSum(row, 1, 0);
        Assert.Equal(0, row[0]);
        Assert.Equal(0, row[1]);
        Assert.True(row[2] is >= 0 and < 1e-44f, $"exp(-103) = {row[2]}"); // a denormal or 0, as float exp would give
        Assert.Equal(float.PositiveInfinity, row[3]);
        Assert.True(float.IsNaN(row[4]));
        Assert.Equal(1, row[5], 1.2e-7f); // exactly 1 on AVX-512; TensorPrimitives' scalar exp(0) is 1 ulp above
        Assert.True(float.IsNaN(sum));
    }
}
