"""A tiny classic-BPF interpreter, to check the kernel filter's verdicts without root."""

from __future__ import annotations

from agent.network.bpf import Instruction


def run(program: list[Instruction], packet: bytes) -> int:
    """Return the program's verdict (bytes to keep; 0 drops) for one packet."""
    a = x = 0
    memory = [0] * 16
    pc = 0

    def load(offset: int, size: int) -> int | None:
        if offset < 0 or offset + size > len(packet):
            return None
        return int.from_bytes(packet[offset : offset + size], "big")

    while pc < len(program):
        code, jt, jf, k = program[pc]
        pc += 1
        klass = code & 0x07
        if klass in (0x00, 0x01):  # LD, LDX
            size = {0x00: 4, 0x08: 2, 0x10: 1}[code & 0x18]
            mode = code & 0xE0
            if mode == 0x00:
                value = k
            elif mode == 0x20:
                value = load(k, size)
            elif mode == 0x40:
                value = load(x + k, size)
            elif mode == 0x60:
                value = memory[k]
            elif mode == 0x80:
                value = len(packet)
            elif mode == 0xA0:  # MSH: 4 * (packet[k] & 0xf)
                byte = load(k, 1)
                value = None if byte is None else (byte & 0x0F) * 4
            else:
                raise ValueError(f"mode {mode:#x}")
            if value is None:
                return 0
            if klass == 0x00:
                a = value
            else:
                x = value
        elif klass == 0x02:
            memory[k] = a
        elif klass == 0x03:
            memory[k] = x
        elif klass == 0x04:  # ALU
            operand = x if code & 0x08 else k
            a = _alu(code & 0xF0, a, operand) & 0xFFFFFFFF
        elif klass == 0x05:  # JMP
            operand = x if code & 0x08 else k
            operation = code & 0xF0
            if operation == 0x00:
                pc += k
                continue
            taken = {
                0x10: a == operand,
                0x20: a > operand,
                0x30: a >= operand,
                0x40: bool(a & operand),
            }[operation]
            pc += jt if taken else jf
        elif klass == 0x06:  # RET
            return a if code & 0x18 == 0x10 else k
        elif klass == 0x07:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
    return 0


def _alu(operation: int, a: int, operand: int) -> int:
    if operation == 0x00:
        return a + operand
    if operation == 0x10:
        return a - operand
    if operation == 0x20:
        return a * operand
    if operation == 0x30:
        return a // operand if operand else 0
    if operation == 0x40:
        return a | operand
    if operation == 0x50:
        return a & operand
    if operation == 0x60:
        return a << operand
    if operation == 0x70:
        return a >> operand
    if operation == 0x80:
        return -a
    raise ValueError(f"ALU operation {operation:#x}")
